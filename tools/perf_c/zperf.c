/* zperf: the native C baseline for zguide_py's performance sweep (notebook 16, `make bench`).
 *
 * The same four measurements as libzmq's perf tools (local_thr/remote_thr, local_lat/remote_lat),
 * one program with modes, written for this project:
 *
 *   zperf thr-recv   ENDPOINT SIZE COUNT MODE HWM   PULL, binds; times COUNT messages from the first
 *   zperf thr-send   ENDPOINT SIZE COUNT MODE HWM   PUSH, connects; sends COUNT messages
 *   zperf lat-echo   ENDPOINT SIZE COUNT MODE       REP, binds; echoes 1 + COUNT messages
 *   zperf lat-ping   ENDPOINT SIZE COUNT MODE       REQ, connects; 1 warm-up, then times COUNT round trips
 *   zperf inproc-thr SIZE COUNT MODE HWM            thr-send and thr-recv as two threads of one process
 *   zperf inproc-lat SIZE COUNT MODE                lat-echo and lat-ping as two threads of one process
 *   zperf version                                   the libzmq version it runs on
 *
 * MODE is "copy" (zmq_send/zmq_recv copy the bytes in and out of a buffer, as pyzmq's copy=True does)
 * or "zerocopy" (the sender wraps one prefilled buffer with zmq_msg_init_data, the receiver keeps
 * the zmq_msg_t, as pyzmq's copy=False does).
 * thr-send and lat-echo keep their socket open until their stdin reaches end-of-file (the parent
 * closes it once the result is in): closing a socket with messages still queued can lose them.
 * A binding mode prints "endpoint <resolved endpoint>" on its first line (so "tcp://127.0.0.1:*"
 * works); the measuring side prints one JSON line. Every receive and send times out after 10 s
 * (exit status 3), so a dead peer never hangs the benchmark.
 *
 * Build: cc -O2 -o zperf zperf.c -lzmq -lpthread   (zguide_py.perf does this into build/perf_c/)
 */
#include <zmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "zperf: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(zmq_errno() == EAGAIN ? 3 : 1);
}

typedef struct {
    void *ctx;
    const char *endpoint;
    size_t size;
    long count;
    int zerocopy;
    int hwm;
    char *buf;
    double result;      /* msg/s for thr-recv, one-way µs for lat-ping */
} job_t;

static void *open_socket(void *ctx, int type, int hwm) {
    void *s = zmq_socket(ctx, type);
    int timeout = TIMEOUT_MS, linger = TIMEOUT_MS;
    if (!s) die("zmq_socket");
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (hwm > 0) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    return s;
}

static void bind_and_announce(void *s, const char *endpoint, int announce) {
    char resolved[256];
    size_t len = sizeof resolved;
    if (zmq_bind(s, endpoint) != 0) die("zmq_bind");
    if (!announce) return;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, resolved, &len) != 0) die("ZMQ_LAST_ENDPOINT");
    printf("endpoint %s\n", resolved);
    fflush(stdout);
}

static void send_one(void *s, job_t *j) {
    if (j->zerocopy) {
        zmq_msg_t msg;
        zmq_msg_init_data(&msg, j->buf, j->size, NULL, NULL);   /* no free: the buffer outlives it */
        if (zmq_msg_send(&msg, s, 0) < 0) die("zmq_msg_send");
    } else if (zmq_send(s, j->buf, j->size, 0) < 0) {
        die("zmq_send");
    }
}

static void recv_one(void *s, job_t *j) {
    if (j->zerocopy) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, 0) < 0) die("zmq_msg_recv");
        if (zmq_msg_size(&msg) != j->size) { fprintf(stderr, "zperf: wrong size\n"); exit(1); }
        zmq_msg_close(&msg);
    } else {
        int n = zmq_recv(s, j->buf, j->size, 0);
        if (n < 0) die("zmq_recv");
        if ((size_t)n != j->size) { fprintf(stderr, "zperf: wrong size\n"); exit(1); }
    }
}

static void echo_one(void *s, job_t *j) {
    if (j->zerocopy) {      /* the received message goes straight back, bytes untouched */
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, 0) < 0) die("zmq_msg_recv");
        if (zmq_msg_send(&msg, s, 0) < 0) die("zmq_msg_send");
    } else {
        int n = zmq_recv(s, j->buf, j->size, 0);
        if (n < 0) die("zmq_recv");
        if (zmq_send(s, j->buf, (size_t)n, 0) < 0) die("zmq_send");
    }
}

/* The far side (thr-send, lat-echo) keeps its socket open until its stdin closes (a process) or the
   measuring thread is done (inproc), that is until the result is in: closing a socket while messages are still queued can lose them (seen over
   ipc with libzmq 4.3), and the measuring side would then wait for messages that never come. */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_flag = 0;

static void hold_socket(int hold) {
    if (hold == 1) {                    /* a process: until the parent closes our stdin */
        char buf[64];
        while (read(0, buf, sizeof buf) > 0) {}
    } else if (hold == 2) {             /* a thread: until the measuring thread is done */
        pthread_mutex_lock(&done_lock);
        while (!done_flag) pthread_cond_wait(&done_cond, &done_lock);
        pthread_mutex_unlock(&done_lock);
    }
}

static void release_peer(void) {
    pthread_mutex_lock(&done_lock);
    done_flag = 1;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

static void *thr_recv(void *arg, int announce) {
    job_t *j = arg;
    void *s = open_socket(j->ctx, ZMQ_PULL, j->hwm);
    double started;
    long i;
    bind_and_announce(s, j->endpoint, announce);
    recv_one(s, j);                     /* like local_thr: the clock starts at the first message */
    started = now_s();
    for (i = 1; i < j->count; i++) recv_one(s, j);
    j->result = (j->count - 1) / (now_s() - started);
    zmq_close(s);
    return NULL;
}

static void *thr_send(void *arg, int hold) {
    job_t *j = arg;
    void *s = open_socket(j->ctx, ZMQ_PUSH, j->hwm);
    long i;
    if (zmq_connect(s, j->endpoint) != 0) die("zmq_connect");
    for (i = 0; i < j->count; i++) send_one(s, j);
    hold_socket(hold);
    zmq_close(s);
    return NULL;
}

static void *lat_echo(void *arg, int announce, int hold) {
    job_t *j = arg;
    void *s = open_socket(j->ctx, ZMQ_REP, 0);
    long i;
    bind_and_announce(s, j->endpoint, announce);
    for (i = 0; i <= j->count; i++) echo_one(s, j);
    hold_socket(hold);
    zmq_close(s);
    return NULL;
}

static void *lat_ping(void *arg) {
    job_t *j = arg;
    void *s = open_socket(j->ctx, ZMQ_REQ, 0);
    double started;
    long i;
    if (zmq_connect(s, j->endpoint) != 0) die("zmq_connect");
    send_one(s, j);                     /* warm-up round trip: connects, not counted */
    recv_one(s, j);
    started = now_s();
    for (i = 0; i < j->count; i++) {
        send_one(s, j);
        recv_one(s, j);
    }
    j->result = (now_s() - started) / j->count / 2 * 1e6;
    zmq_close(s);
    return NULL;
}

static void *thr_send_thread(void *arg) { return thr_send(arg, 2); }
static void *lat_echo_thread(void *arg) { return lat_echo(arg, 0, 2); }

static void usage(void) {
    fprintf(stderr, "usage: zperf thr-recv|thr-send ENDPOINT SIZE COUNT copy|zerocopy HWM\n"
                    "       zperf lat-echo|lat-ping ENDPOINT SIZE COUNT copy|zerocopy\n"
                    "       zperf inproc-thr SIZE COUNT copy|zerocopy HWM\n"
                    "       zperf inproc-lat SIZE COUNT copy|zerocopy\n");
    exit(2);
}

int main(int argc, char **argv) {
    job_t j, peer;
    const char *mode;
    int inproc, a;
    pthread_t thread;
    if (argc == 2 && strcmp(argv[1], "version") == 0) {
        int major, minor, patch;
        zmq_version(&major, &minor, &patch);
        printf("%d.%d.%d\n", major, minor, patch);
        return 0;
    }
    if (argc < 2) usage();
    mode = argv[1];
    inproc = strncmp(mode, "inproc-", 7) == 0;
    a = inproc ? 2 : 3;                 /* index of SIZE */
    if (argc < a + 3) usage();
    memset(&j, 0, sizeof j);
    j.endpoint = inproc ? "inproc://zperf" : argv[2];
    j.size = strtoul(argv[a], NULL, 10);
    j.count = strtol(argv[a + 1], NULL, 10);
    if (strcmp(argv[a + 2], "zerocopy") == 0) j.zerocopy = 1;
    else if (strcmp(argv[a + 2], "copy") != 0) usage();
    j.hwm = argc > a + 3 ? atoi(argv[a + 3]) : 0;
    if (j.size < 1 || j.count < 2) usage();
    j.buf = malloc(j.size);
    if (!j.buf) { fprintf(stderr, "zperf: out of memory\n"); return 1; }
    memset(j.buf, 'x', j.size);
    j.ctx = zmq_ctx_new();
    if (!j.ctx) die("zmq_ctx_new");

    if (strcmp(mode, "thr-recv") == 0) {
        thr_recv(&j, 1);
        printf("{\"msgs_per_s\": %.3f, \"count\": %ld}\n", j.result, j.count);
    } else if (strcmp(mode, "thr-send") == 0) {
        thr_send(&j, 1);
    } else if (strcmp(mode, "lat-echo") == 0) {
        lat_echo(&j, 1, 1);
    } else if (strcmp(mode, "lat-ping") == 0) {
        lat_ping(&j);
        printf("{\"latency_us\": %.3f, \"roundtrips\": %ld}\n", j.result, j.count);
    } else if (strcmp(mode, "inproc-thr") == 0 || strcmp(mode, "inproc-lat") == 0) {
        /* the peer side in a second thread with its own buffer; inproc lets either side go first */
        int thr = strcmp(mode, "inproc-thr") == 0;
        peer = j;
        peer.buf = malloc(j.size);
        if (!peer.buf) { fprintf(stderr, "zperf: out of memory\n"); return 1; }
        memset(peer.buf, 'x', j.size);
        pthread_create(&thread, NULL, thr ? thr_send_thread : lat_echo_thread, &peer);
        if (thr) {
            thr_recv(&j, 0);
            printf("{\"msgs_per_s\": %.3f, \"count\": %ld}\n", j.result, j.count);
        } else {
            lat_ping(&j);
            printf("{\"latency_us\": %.3f, \"roundtrips\": %ld}\n", j.result, j.count);
        }
        release_peer();
        pthread_join(thread, NULL);
        free(peer.buf);
    } else {
        usage();
    }
    zmq_ctx_term(j.ctx);
    return 0;
}
