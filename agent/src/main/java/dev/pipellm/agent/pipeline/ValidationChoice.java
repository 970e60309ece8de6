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
 * exact. mprotect is refused by Config (see {@link Validate}).
 */
final class ValidationChoice {
    private ValidationChoice() {}

    /** The tracking to use, or null for compare. {@code tracker} null: the shim is not loaded. */
    static WriteTracking choose(Config config, Counters counters, PageTracker tracker) {
        Validate want = config.validate();
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
