/*
 * The JVM side of the shim: create a JVM (LD_PRELOAD role), join one that already runs in the
 * process, or serve as a -agentpath agent; then call Bridge.bootstrap once over JNI.
 *
 * Created JVMs live on a thread of their own (8 MiB stack, then parked for the life of the process),
 * never on the caller's thread (often Python's primordial thread), with -Xrs so that the host keeps
 * its SIGINT/SIGTERM handling (Python's KeyboardInterrupt).
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <jni.h>
#include <jvmti.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIN_JAVA_MAJOR 25
#define BRIDGE_CLASS "dev/pipellm/agent/bridge/Bridge"
#define BRIDGE_CLASS_DOTTED "dev.pipellm.agent.bridge.Bridge"
#define BRIDGE_SIG "(JILjava/lang/String;Ljava/lang/String;I)J"
#define VALIDATE_SIG "(Ljava/lang/String;I)Z"

int pl_role = PL_ROLE_PRELOAD;
static JavaVM *vm;
static _Atomic int vm_initialised;   /* agent role: FindClass is only allowed after VMInit */

int pl_agent_jar(char *out, size_t cap) {
    Dl_info self;
    if (pl_opts.home[0]) {
        snprintf(out, cap, "%s/lib/pipellm-agent.jar", pl_opts.home);
        if (!access(out, R_OK)) return 0;
    }
    if (dladdr((void *)pl_agent_jar, &self) && self.dli_fname) {
        const char *slash = strrchr(self.dli_fname, '/');
        snprintf(out, cap, "%.*s/pipellm-agent.jar", slash ? (int)(slash - self.dli_fname) : 1, slash ? self.dli_fname : ".");
        if (!access(out, R_OK)) return 0;
    }
    return -1;
}

static void hook_names(char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < PL_HOOK_COUNT && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", pl_hook_names[i]);
}

/* The Bridge class from the system class loader. FindClass would use the loader of the Java frame
 * that called into native code: for an FFM downcall that is a JDK-internal class whose loader cannot
 * see the application class path, so ask the system class loader explicitly. */
static jclass bridge_class(JNIEnv *env) {
    jclass loader_cls = (*env)->FindClass(env, "java/lang/ClassLoader");
    if (!loader_cls) return NULL;
    jmethodID get_system = (*env)->GetStaticMethodID(env, loader_cls, "getSystemClassLoader", "()Ljava/lang/ClassLoader;");
    jmethodID load = (*env)->GetMethodID(env, loader_cls, "loadClass", "(Ljava/lang/String;)Ljava/lang/Class;");
    if (!get_system || !load) return NULL;
    jobject loader = (*env)->CallStaticObjectMethod(env, loader_cls, get_system);
    if (!loader || (*env)->ExceptionCheck(env)) return NULL;
    jstring name = (*env)->NewStringUTF(env, BRIDGE_CLASS_DOTTED);
    jclass cls = name ? (jclass)(*env)->CallObjectMethod(env, loader, load, name) : NULL;
    if ((*env)->ExceptionCheck(env)) return NULL;
    return cls;
}

/* Calls Bridge.bootstrap on an attached thread; the upcall table or NULL. */
static const pl_upcalls *bootstrap(JNIEnv *env) {
    jclass cls = bridge_class(env);
    jmethodID mid = cls ? (*env)->GetStaticMethodID(env, cls, "bootstrap", BRIDGE_SIG) : NULL;
    if (!mid) {
        (*env)->ExceptionClear(env);
        pl_fail_reason("the agent jar has no %s.bootstrap: wrong or corrupt pipellm-agent.jar", BRIDGE_CLASS);
        return NULL;
    }
    char names[2048];
    hook_names(names, sizeof names);
    jstring jnames = (*env)->NewStringUTF(env, names);
    jstring jopts = (*env)->NewStringUTF(env, pl_opts.merged);
    jlong table = (*env)->CallStaticLongMethod(env, cls, mid, (jlong)(intptr_t)pl_real, (jint)PL_HOOK_COUNT,
                                               jnames, jopts, (jint)pl_role);
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionClear(env);
        pl_fail_reason("the agent threw during start-up");
        return NULL;
    }
    (*env)->DeleteLocalRef(env, jnames);
    (*env)->DeleteLocalRef(env, jopts);
    const pl_upcalls *up = (const pl_upcalls *)(intptr_t)table;
    if (up && up->version != PL_BRIDGE_VERSION) {
        pl_fail_reason("agent bridge version %d, shim expects %d: mismatched builds", up->version, PL_BRIDGE_VERSION);
        return NULL;
    }
    if (up && up->size != (int32_t)sizeof(pl_upcalls)) {
        pl_fail_reason("agent's upcall table is %d bytes, shim expects %zu: mismatched builds", up->size,
                       sizeof(pl_upcalls));
        return NULL;
    }
    return up;
}

/* Attaches the calling thread if needed, bootstraps, detaches what it attached. */
static const pl_upcalls *bootstrap_on_this_thread(void) {
    JNIEnv *env = NULL;
    int attached = 0;
    jint rc = (*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_10);
    if (rc == JNI_EDETACHED) {
        JavaVMAttachArgs args = {JNI_VERSION_10, "pipellm-bootstrap", NULL};
        if ((*vm)->AttachCurrentThreadAsDaemon(vm, (void **)&env, &args) != JNI_OK) return NULL;
        attached = 1;
    } else if (rc != JNI_OK) {
        return NULL;
    }
    const pl_upcalls *up = bootstrap(env);
    if (attached) (*vm)->DetachCurrentThread(vm);
    return up;
}

static int add_jar_to_class_path(void) {
    char jar[4096];
    if (pl_agent_jar(jar, sizeof jar)) {
        pl_fail_reason("pipellm-agent.jar not found beside libpipellm.so or in $PIPELLM_HOME/lib");
        return -1;
    }
    jvmtiEnv *jvmti = NULL;
    if ((*vm)->GetEnv(vm, (void **)&jvmti, JVMTI_VERSION_1_2) != JNI_OK) return -1;
    return (*jvmti)->AddToSystemClassLoaderSearch(jvmti, jar) == JVMTI_ERROR_NONE ? 0 : -1;
}

/* ---- creating a JVM (LD_PRELOAD role) ---- */

static int java_major(const char *home) {
    char path[4200], line[256];
    snprintf(path, sizeof path, "%s/release", home);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int major = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "JAVA_VERSION=\"", 14)) major = atoi(line + 14);
    fclose(f);
    return major;
}

typedef struct starter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    const pl_upcalls *up;
} starter;

static void *jvm_main(void *arg) {
    starter *st = arg;
    const pl_upcalls *up = NULL;
    char libjvm[4200], cp[4200], jar[4096];
    snprintf(libjvm, sizeof libjvm, "%s/lib/server/libjvm.so", pl_opts.java_home);
    void *h = dlopen(libjvm, RTLD_NOW | RTLD_LOCAL);
    jint (*create)(JavaVM **, void **, void *) = h ? (jint(*)(JavaVM **, void **, void *))pl_dlsym(h, "JNI_CreateJavaVM") : NULL;
    if (!create) {
        pl_fail_reason("cannot load %s", libjvm);
    } else if (pl_agent_jar(jar, sizeof jar)) {
        pl_fail_reason("pipellm-agent.jar not found beside libpipellm.so or in $PIPELLM_HOME/lib");
    } else {
        snprintf(cp, sizeof cp, "-Djava.class.path=%s", jar);
        JavaVMOption options[] = {
            {cp, NULL}, {"-Xrs", NULL}, {"--enable-native-access=ALL-UNNAMED", NULL}, {"-XX:-UsePerfData", NULL},
            /* Small and steady: a bounded young generation keeps the churn of per-message allocations
             * from growing the host's RSS (docs/benchmarks.md, "Memory"). */
            {"-XX:+UseSerialGC", NULL}, {"-Xss1m", NULL}, {"-Xms16m", NULL}, {"-XX:MaxNewSize=16m", NULL},
            /* SIGUSR2 goes back to the host (shim_signals.c): a JFR started through jcmd would suspend
             * threads with it and end the host. No attach, so no jcmd into the embedded JVM. */
            {"-XX:+DisableAttachMechanism", NULL},
        };
        JavaVMInitArgs args = {JNI_VERSION_10, (jint)(sizeof options / sizeof options[0]), options, JNI_FALSE};
        JNIEnv *env = NULL;
        pl_signal_snapshot host_signals;
        pl_signals_before_jvm(&host_signals);
        jint rc = create(&vm, (void **)&env, &args);
        pl_signals_after_jvm(&host_signals);
        if (rc != JNI_OK) pl_fail_reason("JNI_CreateJavaVM failed (%d)", (int)rc);
        else up = bootstrap(env);
    }
    pthread_mutex_lock(&st->mu);
    st->up = up;
    st->done = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    /* The thread that created the JVM stays: destroying it would take the JVM down with it. */
    if (vm) {
        pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
        pthread_mutex_lock(&park_mu);
        for (;;) pthread_cond_wait(&park_cv, &park_mu);
    }
    return NULL;
}

static const pl_upcalls *create_jvm(void) {
    if (!pl_opts.java_home[0]) {
        pl_fail_reason("no JDK: PIPELLM_JAVA_HOME and JAVA_HOME are unset (need a JDK >= %d)", MIN_JAVA_MAJOR);
        return NULL;
    }
    int major = java_major(pl_opts.java_home);
    if (major < MIN_JAVA_MAJOR) {
        pl_fail_reason("no JDK >= %d at %s (PIPELLM_JAVA_HOME or JAVA_HOME)", MIN_JAVA_MAJOR, pl_opts.java_home);
        return NULL;
    }
    static starter st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 8 << 20);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &at, jvm_main, &st);
    pthread_attr_destroy(&at);
    if (rc) return NULL;
    pthread_setname_np(t, "pipellm-jvm");
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&st.mu);
    while (!st.done && pthread_cond_timedwait(&st.cv, &st.mu, &deadline) == 0) {}
    const pl_upcalls *up = st.done ? st.up : NULL;
    pthread_mutex_unlock(&st.mu);
    if (!st.done) pl_fail_reason("the JVM did not start within 60 s");
    return up;
}

/* ---- the JVM's life, in the roles where the host owns it ---- */

static void JNICALL on_vm_death(jvmtiEnv *jvmti, JNIEnv *env) {
    (void)jvmti; (void)env;
    atomic_store(&pl_vm_dead, 1);   /* no upcall from now on (shim_lifecycle.c) */
}

/* The JVM's Java version, from java.vm.specification.version ("25"; "1.8" before 9: the only property
 * of the kind that exists already in the OnLoad phase); -1 if unknown. */
static int jvm_major(jvmtiEnv *jvmti, char *home, size_t cap) {
    char *spec = NULL, *jhome = NULL;
    int major = -1;
    if ((*jvmti)->GetSystemProperty(jvmti, "java.vm.specification.version", &spec) == JVMTI_ERROR_NONE && spec) {
        major = !strncmp(spec, "1.", 2) ? atoi(spec + 2) : atoi(spec);
        (*jvmti)->Deallocate(jvmti, (unsigned char *)spec);
    }
    snprintf(home, cap, "?");
    if ((*jvmti)->GetSystemProperty(jvmti, "java.home", &jhome) == JVMTI_ERROR_NONE && jhome) {
        snprintf(home, cap, "%s", jhome);
        (*jvmti)->Deallocate(jvmti, (unsigned char *)jhome);
    }
    return major;
}

/* 0 when the host's JVM can run the agent; otherwise records why (the agent jar is Java 25 bytecode). */
static int check_host_jvm(jvmtiEnv *jvmti) {
    char home[1024];
    int major = jvm_major(jvmti, home, sizeof home);
    if (major >= MIN_JAVA_MAJOR) return 0;
    pl_fail_reason("this JVM is Java %d (java.home %s); the PipeLLM agent needs Java >= %d", major, home, MIN_JAVA_MAJOR);
    return -1;
}

static int watch_vm_death(jvmtiEnv *jvmti, int vm_init_too);

/* A JVM already in the process (a Java host with LD_PRELOAD, JPype...): join it. */
static JavaVM *existing_jvm(void) {
    jint (*created)(JavaVM **, jsize, jsize *) = (jint(*)(JavaVM **, jsize, jsize *))pl_dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
    JavaVM *found = NULL;
    jsize n = 0;
    if (created && created(&found, 1, &n) == JNI_OK && n > 0) return found;
    return NULL;
}

const pl_upcalls *pl_jvm_bootstrap(int *retry_later) {
    *retry_later = 0;
    if (pl_role == PL_ROLE_AGENTPATH) {
        if (!atomic_load(&vm_initialised)) {   /* before VMInit FindClass is not allowed: try on a later call */
            *retry_later = 1;
            return NULL;
        }
        return bootstrap_on_this_thread();
    }
    JavaVM *joined = existing_jvm();
    if (joined) {
        vm = joined;
        pl_role = PL_ROLE_JOINED;
        jvmtiEnv *jvmti = NULL;
        if ((*vm)->GetEnv(vm, (void **)&jvmti, JVMTI_VERSION_1_2) != JNI_OK) {
            pl_fail_reason("cannot get a JVMTI environment from the host's JVM");
            return NULL;
        }
        if (check_host_jvm(jvmti) || add_jar_to_class_path() || watch_vm_death(jvmti, 0)) return NULL;
        return bootstrap_on_this_thread();
    }
    return create_jvm();
}

/* ---- the -agentpath role ---- */

/* Options are validated when the VM can run Java (VMInit), so a bad one is reported at start-up,
 * not at the first CUDA call; the agent itself still starts lazily, on that call. */
static int validate_options(JNIEnv *env) {
    jclass cls = bridge_class(env);
    jmethodID mid = cls ? (*env)->GetStaticMethodID(env, cls, "validate", VALIDATE_SIG) : NULL;
    if (!mid) {
        (*env)->ExceptionClear(env);
        pl_fail_reason("the agent jar has no %s.validate: wrong or corrupt pipellm-agent.jar", BRIDGE_CLASS);
        return -1;
    }
    jstring jopts = (*env)->NewStringUTF(env, pl_opts.merged);
    jboolean ok = jopts ? (*env)->CallStaticBooleanMethod(env, cls, mid, jopts, (jint)pl_role) : JNI_FALSE;
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionClear(env);
        ok = JNI_FALSE;
    }
    if (jopts) (*env)->DeleteLocalRef(env, jopts);
    if (!ok) pl_fail_reason("invalid options");
    return ok ? 0 : -1;
}

static void JNICALL on_vm_init(jvmtiEnv *jvmti, JNIEnv *env, jthread thread) {
    (void)jvmti; (void)thread;
    if (atomic_load(&pl_agent_state) != PL_AGENT_IDLE) return;
    if (validate_options(env)) pl_agent_give_up();
    else atomic_store(&vm_initialised, 1);
}

static int watch_vm_death(jvmtiEnv *jvmti, int vm_init_too) {
    jvmtiEventCallbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.VMDeath = on_vm_death;
    if (vm_init_too) cb.VMInit = on_vm_init;
    if ((*jvmti)->SetEventCallbacks(jvmti, &cb, sizeof cb) != JVMTI_ERROR_NONE
        || (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_VM_DEATH, NULL) != JVMTI_ERROR_NONE
        || (vm_init_too && (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_VM_INIT, NULL)
                               != JVMTI_ERROR_NONE)) {
        pl_fail_reason("cannot watch the JVM's start and end (JVMTI events)");
        return -1;
    }
    return 0;
}

PL_API jint JNICALL Agent_OnLoad(JavaVM *jvm, char *options, void *reserved) {
    (void)reserved;
    vm = jvm;
    pl_role = PL_ROLE_AGENTPATH;
    /* HotSpot loads agents RTLD_LOCAL: libraries loaded later (JNI, libcudart) would bind cudaMemcpy
     * straight to libcudart. Promote ourselves to the global scope so our definitions come first. */
    Dl_info self;
    if (!dladdr((void *)Agent_OnLoad, &self) || !dlopen(self.dli_fname, RTLD_NOLOAD | RTLD_NOW | RTLD_GLOBAL)) {
        pl_log(PL_LOG_ERROR, "cannot promote libpipellm.so to the global scope: copies will not be seen");
    }
    /* Never stop the host JVM over PipeLLM: every failure below degrades (or refuses, if fail-closed). */
    if (pl_options_load(options)) {
        pl_fail_reason("invalid options");
        pl_agent_give_up();
        return JNI_OK;
    }
    if (pl_mode_off()) {
        atomic_store(&pl_agent_state, PL_AGENT_OFF);
        return JNI_OK;
    }
    jvmtiEnv *jvmti = NULL;
    if ((*vm)->GetEnv(vm, (void **)&jvmti, JVMTI_VERSION_1_2) != JNI_OK) {
        pl_fail_reason("cannot get a JVMTI environment");
        pl_agent_give_up();
        return JNI_OK;
    }
    if (check_host_jvm(jvmti) || add_jar_to_class_path() || watch_vm_death(jvmti, 1)) pl_agent_give_up();
    return JNI_OK;
}
