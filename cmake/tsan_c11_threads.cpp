// Linked into every binary of the tsan preset only (PULSESTREAM_TSAN_C11_THREADS).
//
// librdkafka starts its threads and takes its locks through C11 <threads.h> (thrd_create,
// mtx_lock, cnd_wait), and glibc implements those without going through the pthread functions
// that ThreadSanitizer intercepts. Unseen, a thread started that way crashes TSan at its first
// access, and unseen locks would make every hand-over through librdkafka look like a race.
// These definitions, in the executable, take precedence over glibc's and forward to the
// intercepted pthread calls (mtx_t and cnd_t are glibc's pthread types under another name).
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace {

pthread_mutex_t* native(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* native(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

// A C11 start routine returns int; a pthread one returns void*. The int travels in the void*.
struct c11_start {
    thrd_start_t start;
    void* arg;
};

void* run_c11_start(void* opaque) {
    const c11_start call = *static_cast<c11_start*>(opaque);
    delete static_cast<c11_start*>(opaque);
    return reinterpret_cast<void*>(static_cast<std::intptr_t>(call.start(call.arg)));
}

int c11_result(int pthread_rc) {
    switch (pthread_rc) {
        case 0:
            return thrd_success;
        case ETIMEDOUT:
            return thrd_timedout;
        case EBUSY:
            return thrd_busy;
        case ENOMEM:
        case EAGAIN:
            return thrd_nomem;
        default:
            return thrd_error;
    }
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t start, void* arg) {
    auto* call = new c11_start{start, arg};
    const int rc = pthread_create(thread, nullptr, &run_c11_start, call);
    if (rc != 0) delete call;
    return c11_result(rc);
}

int thrd_join(thrd_t thread, int* exit_code) {
    void* value = nullptr;
    const int rc = pthread_join(thread, &value);
    if (rc == 0 && exit_code != nullptr) {
        *exit_code = static_cast<int>(reinterpret_cast<std::intptr_t>(value));
    }
    return c11_result(rc);
}

int thrd_detach(thrd_t thread) { return c11_result(pthread_detach(thread)); }

int mtx_init(mtx_t* m, int type) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    const int rc = pthread_mutex_init(native(m), &attr);
    pthread_mutexattr_destroy(&attr);
    return c11_result(rc);
}

int mtx_lock(mtx_t* m) { return c11_result(pthread_mutex_lock(native(m))); }
int mtx_trylock(mtx_t* m) { return c11_result(pthread_mutex_trylock(native(m))); }
int mtx_timedlock(mtx_t* m, const struct timespec* until) {
    return c11_result(pthread_mutex_timedlock(native(m), until));
}
int mtx_unlock(mtx_t* m) { return c11_result(pthread_mutex_unlock(native(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(native(m)); }

int cnd_init(cnd_t* c) { return c11_result(pthread_cond_init(native(c), nullptr)); }
int cnd_signal(cnd_t* c) { return c11_result(pthread_cond_signal(native(c))); }
int cnd_broadcast(cnd_t* c) { return c11_result(pthread_cond_broadcast(native(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return c11_result(pthread_cond_wait(native(c), native(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* until) {
    return c11_result(pthread_cond_timedwait(native(c), native(m), until));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(native(c)); }

}  // extern "C"
