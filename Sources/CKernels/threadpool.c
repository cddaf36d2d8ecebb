// A small persistent pthread pool for the parallel kernels. Workers are created lazily on the first
// parallel call, spin briefly after each job (back-to-back kernels are common) and then sleep on a
// condition variable. Tasks are handed out dynamically with an atomic counter; the calling thread
// takes part. Concurrent callers are serialized by a mutex; calls made from inside a task run
// serially on the calling thread.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // sched_getaffinity, CPU_COUNT
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "include/ckernels.h"

enum { MAX_THREADS = 256 };
static const long SPIN_NS = 200 * 1000; // how long idle threads spin before sleeping

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
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;     // last worker left the job

static int workers_started; // guarded by call_lock
// job_word as it was when each worker was created (before the job it was created for was posted),
// so a worker that starts late still sees that job as new.
static unsigned long long worker_start_word[MAX_THREADS];

// The current job. `job_word` = (sequence << 16) | participating workers; workers read who takes
// part from the same atomic that announces the job, so a slow non-participant never looks at
// fields the caller is already rewriting for the next job.
static _Atomic unsigned long long job_word;
static rk_task_fn job_fn;
static void *job_ctx;
static int job_ntasks;
static atomic_int job_next;    // next task index to hand out
static atomic_int job_pending; // participating workers that have not finished yet

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

static void run_tasks(rk_task_fn fn, void *ctx, int ntasks) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&job_next, 1, memory_order_relaxed);
        if (t >= ntasks) break;
        fn(ctx, t);
    }
}

/// Waits until job_word differs from `seen`: spins for SPIN_NS, then sleeps.
static unsigned long long wait_for_job(unsigned long long seen) {
    unsigned long long w;
    long deadline = 0;
    for (int i = 0;; i++) {
        w = atomic_load_explicit(&job_word, memory_order_acquire);
        if (w != seen) return w;
        cpu_relax();
        if ((i & 63) == 63) {
            long t = now_ns();
            if (deadline == 0) deadline = t + SPIN_NS;
            else if (t > deadline) break;
        }
    }
    pthread_mutex_lock(&lock);
    while ((w = atomic_load_explicit(&job_word, memory_order_acquire)) == seen)
        pthread_cond_wait(&wake_cv, &lock);
    pthread_mutex_unlock(&lock);
    return w;
}

static void *worker_main(void *arg) {
    const int id = (int)(intptr_t)arg; // 0-based worker index (the caller is not counted)
    in_task = 1;
    unsigned long long seen = worker_start_word[id];
    for (;;) {
        seen = wait_for_job(seen);
        if (id >= (int)(seen & 0xffff)) continue; // not needed for this job
        run_tasks(job_fn, job_ctx, job_ntasks);
        if (atomic_fetch_sub_explicit(&job_pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&lock);
            pthread_cond_broadcast(&done_cv);
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

static void wait_for_workers(void) {
    long deadline = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&job_pending, memory_order_acquire) == 0) return;
        cpu_relax();
        if ((i & 63) == 63) {
            long t = now_ns();
            if (deadline == 0) deadline = t + SPIN_NS;
            else if (t > deadline) break;
        }
    }
    pthread_mutex_lock(&lock);
    while (atomic_load_explicit(&job_pending, memory_order_acquire) != 0)
        pthread_cond_wait(&done_cv, &lock);
    pthread_mutex_unlock(&lock);
}

/// Starts workers until `want` exist (or creation fails); returns how many exist. Needs call_lock.
static int ensure_workers(int want) {
    if (want > MAX_THREADS - 1) want = MAX_THREADS - 1;
    while (workers_started < want) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        worker_start_word[workers_started] = atomic_load_explicit(&job_word, memory_order_relaxed);
        int rc = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)workers_started);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        workers_started++;
    }
    return workers_started;
}

/// Runs fn(ctx, task) for every task in [0, ntasks) on up to rk_num_threads() threads (the caller
/// included) and returns when all have finished. Nested calls (from inside a task) and single-thread
/// configurations run serially on the calling thread.
void rk_parallel_for(int ntasks, rk_task_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    int threads = rk_num_threads();
    if (ntasks == 1 || threads <= 1 || in_task) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t);
        return;
    }
    pthread_mutex_lock(&call_lock);
    int workers = threads - 1 < ntasks - 1 ? threads - 1 : ntasks - 1;
    workers = ensure_workers(workers) < workers ? workers_started : workers;

    job_fn = fn;
    job_ctx = ctx;
    job_ntasks = ntasks;
    atomic_store_explicit(&job_next, 0, memory_order_relaxed);
    atomic_store_explicit(&job_pending, workers, memory_order_relaxed);
    const unsigned long long seq = (atomic_load_explicit(&job_word, memory_order_relaxed) >> 16) + 1;
    pthread_mutex_lock(&lock);
    atomic_store_explicit(&job_word, (seq << 16) | (unsigned)workers, memory_order_release);
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&lock);

    in_task = 1;
    run_tasks(fn, ctx, ntasks);
    in_task = 0;
    wait_for_workers();
    pthread_mutex_unlock(&call_lock);
}
