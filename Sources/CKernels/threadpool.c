// A small persistent pthread pool for the parallel kernels. Workers are created lazily on the first
// parallel call, spin briefly after each job (back-to-back kernels are common) and then sleep on a
// condition variable. Tasks are claimed dynamically from an atomic counter and the calling thread
// takes part; the call returns when every task has *completed*, so a worker that is slow to wake
// (a busy machine) never delays a job it took no task from. Concurrent callers are serialized by a
// mutex; calls made from inside a task run serially on the calling thread.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // sched_getaffinity, CPU_COUNT
#endif
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "include/ckernels.h"

enum { MAX_THREADS = 256 };
static const long SPIN_NS = 50 * 1000;   // idle threads spin (pause) this long,
static const long YIELD_NS = 300 * 1000; // then spin with sched_yield until this, then sleep

// MARK: - Thread count

static atomic_int thread_count; // 0 until decided

static int detect_threads(void) {
    const char *env = getenv("REFLEX_THREADS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v >= 1) return v > MAX_THREADS ? MAX_THREADS : (int)v;
    }
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1) return n > MAX_THREADS ? MAX_THREADS : n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/// Threads used by parallel kernels: REFLEX_THREADS if set (>= 1), else the CPUs available to this
/// process (sched_getaffinity), unless overridden with rk_set_num_threads.
int rk_num_threads(void) {
    int n = atomic_load_explicit(&thread_count, memory_order_relaxed);
    if (n == 0) {
        int expected = 0;
        n = detect_threads();
        if (!atomic_compare_exchange_strong(&thread_count, &expected, n)) n = expected;
    }
    return n;
}

/// Overrides the thread count for subsequent calls (n >= 1; larger than 256 is clamped).
void rk_set_num_threads(int n) {
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    atomic_store(&thread_count, n);
}

// MARK: - Pool state

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER; // one parallel_for at a time
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;      // sleeping / waking
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;     // new job posted
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;     // last task of a job completed

static int workers_started; // guarded by call_lock
static uint32_t worker_start_seq[MAX_THREADS]; // job sequence when each worker was created

// The job protocol. `job_state` = (sequence << 32) | next unclaimed task. A task is claimed by a
// compare-and-swap that also checks the sequence, so a thread holding a stale view of an older job
// can never claim a task of a newer one. Job parameters live in two slots (sequence & 1): the caller
// fills the slot of job s + 1 while stragglers may still read the slot of job s, and only reuses that
// slot for job s + 2, after job s + 1 has completed (a straggler reading it then fails its claim).
typedef struct {
    _Atomic(rk_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_int ntasks;
    atomic_int workers; // workers (by index) allowed to take part
} job_slot;

static _Atomic uint64_t job_state;
static job_slot slots[2];
static atomic_int job_done; // tasks of the current job that have completed

static _Thread_local int in_task; // set on pool workers and on a caller running tasks

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/// Spins until done(arg) is true or the spin budget is used up (pause first, then sched_yield so
/// an oversubscribed core goes to whoever has work). Returns whether done(arg) became true.
static int spin_until(int (*done)(const void *), const void *arg) {
    long start = 0;
    for (int i = 0;; i++) {
        if (done(arg)) return 1;
        if ((i & 63) != 63) {
            cpu_relax();
            continue;
        }
        const long t = now_ns();
        if (start == 0) start = t;
        else if (t - start > YIELD_NS) return 0;
        else if (t - start > SPIN_NS) sched_yield();
    }
}

static uint32_t seq_of(uint64_t state) { return (uint32_t)(state >> 32); }

/// Claims and runs tasks of job `seq` until none are left (or a newer job replaced it).
static void run_tasks(uint32_t seq, rk_task_fn fn, void *ctx, int ntasks) {
    uint64_t st = atomic_load_explicit(&job_state, memory_order_acquire);
    for (;;) {
        if (seq_of(st) != seq || (int)(uint32_t)st >= ntasks) return;
        if (!atomic_compare_exchange_weak_explicit(&job_state, &st, st + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; // st was reloaded
        fn(ctx, (int)(uint32_t)st);
        if (atomic_fetch_add_explicit(&job_done, 1, memory_order_acq_rel) + 1 == ntasks) {
            pthread_mutex_lock(&lock); // the caller may be asleep waiting for this
            pthread_cond_broadcast(&done_cv);
            pthread_mutex_unlock(&lock);
        }
        st = atomic_load_explicit(&job_state, memory_order_acquire);
    }
}

static int seq_changed(const void *seen) {
    const uint64_t st = atomic_load_explicit(&job_state, memory_order_acquire);
    return seq_of(st) != *(const uint32_t *)seen;
}

static void *worker_main(void *arg) {
    const int id = (int)(intptr_t)arg; // 0-based worker index (the caller is not counted)
    in_task = 1;
    uint32_t seen = worker_start_seq[id];
    for (;;) {
        if (!spin_until(seq_changed, &seen)) {
            pthread_mutex_lock(&lock);
            while (!seq_changed(&seen)) pthread_cond_wait(&wake_cv, &lock);
            pthread_mutex_unlock(&lock);
        }
        seen = seq_of(atomic_load_explicit(&job_state, memory_order_acquire));
        job_slot *s = &slots[seen & 1];
        if (id >= atomic_load_explicit(&s->workers, memory_order_relaxed)) continue;
        run_tasks(seen, atomic_load_explicit(&s->fn, memory_order_relaxed),
                  atomic_load_explicit(&s->ctx, memory_order_relaxed),
                  atomic_load_explicit(&s->ntasks, memory_order_relaxed));
    }
    return NULL;
}

typedef struct {
    int ntasks;
} done_arg;

static int all_done(const void *arg) {
    return atomic_load_explicit(&job_done, memory_order_acquire) >= ((const done_arg *)arg)->ntasks;
}

/// Starts workers until `want` exist (or creation fails); returns how many exist. Needs call_lock.
static int ensure_workers(int want) {
    if (want > MAX_THREADS - 1) want = MAX_THREADS - 1;
    while (workers_started < want) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        worker_start_seq[workers_started] = seq_of(atomic_load(&job_state));
        int rc = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)workers_started);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        workers_started++;
    }
    return workers_started;
}

/// Runs fn(ctx, task) for every task in [0, ntasks) on up to rk_num_threads() threads (the caller
/// included) and returns when all have completed. Nested calls (from inside a task) and
/// single-thread configurations run serially on the calling thread.
void rk_parallel_for(int ntasks, rk_task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    const int threads = rk_num_threads();
    if (ntasks == 1 || threads <= 1 || in_task) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t);
        return;
    }
    pthread_mutex_lock(&call_lock);
    int workers = threads - 1 < ntasks - 1 ? threads - 1 : ntasks - 1;
    const int started = ensure_workers(workers);
    if (started < workers) workers = started;

    const uint32_t seq = seq_of(atomic_load_explicit(&job_state, memory_order_relaxed)) + 1;
    job_slot *s = &slots[seq & 1];
    atomic_store_explicit(&s->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&s->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&s->ntasks, ntasks, memory_order_relaxed);
    atomic_store_explicit(&s->workers, workers, memory_order_relaxed);
    atomic_store_explicit(&job_done, 0, memory_order_relaxed);
    pthread_mutex_lock(&lock);
    atomic_store_explicit(&job_state, (uint64_t)seq << 32, memory_order_release);
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&lock);

    in_task = 1;
    run_tasks(seq, fn, ctx, ntasks);
    in_task = 0;
    const done_arg d = {ntasks};
    if (!spin_until(all_done, &d)) {
        pthread_mutex_lock(&lock);
        while (!all_done(&d)) pthread_cond_wait(&done_cv, &lock);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_unlock(&call_lock);
}

// MARK: - Priority

int rk_lower_thread_priority(int nice_increment) {
#if defined(__linux__)
    struct sched_param param = {0};
    int rc = pthread_setschedparam(pthread_self(), SCHED_OTHER, &param);
    if (rc != 0) return rc;
    const id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int current = getpriority(PRIO_PROCESS, tid);
    if (current == -1 && errno != 0) return errno;
    if (setpriority(PRIO_PROCESS, tid, current + nice_increment) != 0) return errno;
    return 0;
#else
    (void)nice_increment;
    return 0;
#endif
}
