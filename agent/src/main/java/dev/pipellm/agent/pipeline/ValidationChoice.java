package dev.pipellm.agent.pipeline;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.config.Validate;
import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.agent.stats.Counters;

/**
 * Picks the validation at start from {@code validate=} and the probe of write tracking, and logs the
 * choice at info level (a fallback the user asked against at warn). auto takes uffd whenever its
 * probe passes: it is exact (the probe proves it on this kernel) and measured faster than the
 * compare at every size (docs/benchmarks.md, "Validation"); otherwise compare, which is always
 * exact. auto never takes mprotect: it is exact only for the kernel writes it intercepts.
 */
final class ValidationChoice {
    private ValidationChoice() {}

    /** The tracking to use, or null for compare. {@code tracker} null: the shim is not loaded. */
    static WriteTracking choose(Config config, Counters counters, PageTracker tracker) {
        return choose(config, counters, tracker, config.validate() == Validate.MPROTECT ? PageTracker.findMprotect() : null);
    }

    /** {@code mprotect}: the shim's page-protection tracker (validate=mprotect only), or null. */
    static WriteTracking choose(Config config, Counters counters, PageTracker tracker, PageTracker mprotect) {
        Validate want = config.validate();
        if (want == Validate.MPROTECT) {
            int probe = mprotect == null ? PageTracker.Native.NOT_LOADED : mprotect.probe();
            if (probe == 0) {
                AgentLog.logger().info("pipellm: validation: mprotect (validate=mprotect: write-protected source pages, a"
                        + " chained SIGSEGV handler, interposed read/recv/fread; exact only for the writes listed in"
                        + " docs/architecture.md)");
                return new WriteTracking(mprotect, counters);
            }
            AgentLog.logger().warn("pipellm: validation: compare (validate=mprotect is not available here: {})",
                    PageTracker.reason(probe));
            return null;
        }
        if (want == Validate.COMPARE) {
            AgentLog.logger().info("pipellm: validation: compare (validate=compare: a snapshot of each slot, compared at commit)");
            return null;
        }
        if (tracker != null && config.faultPoint() == FaultPoint.NO_UFFD) tracker.disable();
        int probe = tracker == null ? PageTracker.Native.NOT_LOADED : tracker.probe();
        if (probe == 0) {
            AgentLog.logger().info("pipellm: validation: uffd (validate={}: userfaultfd async write-protection and"
                    + " PAGEMAP_SCAN; no snapshots, no compare)", want.key);
            return new WriteTracking(tracker, counters);
        }
        String why = PageTracker.reason(probe);
        if (want == Validate.UFFD) {
            AgentLog.logger().warn("pipellm: validation: compare (validate=uffd is not available here: {})", why);
        } else {
            AgentLog.logger().info("pipellm: validation: compare (validate=auto: uffd is not available: {})", why);
        }
        return null;
    }
}
