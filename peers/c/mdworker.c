/*  mdworker.c: a Majordomo worker (7/MDP) in C, on libzmq alone.

    It says READY for one service to a Majordomo broker (ours is `python -m zguide_py run
    majordomo.broker`), answers each REQUEST with a REPLY, heartbeats the broker while idle,
    and reconnects on a fresh socket when the broker has been silent for `liveness` heartbeats
    or tells it DISCONNECT. SIGINT or SIGTERM: it says DISCONNECT and exits with status 0.

        cc -O2 -Wall -o build/mdworker peers/c/mdworker.c -lzmq
        build/mdworker tcp://127.0.0.1:5555 echo heartbeat=2.5 liveness=3 name=cworker delay=0.01

    Services (the same as the Python workers'): echo, upper, reverse. `delay` makes each request
    take that long, as real work would.

    It prints one line per event on stdout ("start libzmq=4.3.4 pid=99", "ready service=echo
    connection=1", "served n=17",
    "malformed why=...", "broker-lost", "disconnected", "exit status=0"), so a supervisor or a
    test can follow it. A message that is not 7/MDP is counted, printed and dropped.
*/
#include <zmq.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MDPW        "MDPW01"
#define READY       "\001"
#define REQUEST     "\002"
#define REPLY       "\003"
#define HEARTBEAT   "\004"
#define DISCONNECT  "\005"
#define MAX_FRAMES  64              /*  more than this in one message: malformed  */

static volatile sig_atomic_t interrupted = 0;
static void on_signal (int sig) { (void) sig; interrupted = 1; }

static double now (void)            /*  seconds, monotonic  */
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say (const char *line)  /*  one event per line, at once (stdout may be a pipe)  */
{
    fputs (line, stdout);
    fputc ('\n', stdout);
    fflush (stdout);
}

/*  Send frames given as (data, size) pairs; the last one without ZMQ_SNDMORE.  */
static int send_frames (void *socket, int count, const void **data, const size_t *size)
{
    for (int i = 0; i < count; i++)
        if (zmq_send (socket, data [i], size [i], i < count - 1 ? ZMQ_SNDMORE : 0) == -1)
            return -1;
    return 0;
}

static void send_command (void *socket, const char *command)
{
    const void *data [] = { "", MDPW, command };
    size_t size [] = { 0, 6, 1 };
    send_frames (socket, 3, data, size);
}

/*  A new DEALER, connected, with a readable routing id ("name.pid.connection"), that says READY.  */
static void pause_for (double seconds)   /*  a signal cuts it short  */
{
    struct timespec pause = { (time_t) seconds, (long) ((seconds - (time_t) seconds) * 1e9) };
    nanosleep (&pause, NULL);
}

static void *connect_to_broker (void *ctx, const char *endpoint, const char *service,
                                const char *name, int connection)
{
    void *dealer = zmq_socket (ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    char identity [128];
    snprintf (identity, sizeof identity, "%s.%d.%d", name, (int) getpid (), connection);
    zmq_setsockopt (dealer, ZMQ_ROUTING_ID, identity, strlen (identity));
    if (zmq_connect (dealer, endpoint) == -1) {
        fprintf (stderr, "mdworker: cannot connect to %s: %s\n", endpoint, zmq_strerror (errno));
        exit (2);
    }
    char line [300];
    if (connection == 1) {                      /*  said once, when the endpoint was accepted  */
        int major, minor, patch;
        zmq_version (&major, &minor, &patch);
        snprintf (line, sizeof line, "start libzmq=%d.%d.%d pid=%d", major, minor, patch, (int) getpid ());
        say (line);
    }
    const void *data [] = { "", MDPW, READY, service };
    size_t size [] = { 0, 6, 1, strlen (service) };
    send_frames (dealer, 4, data, size);
    snprintf (line, sizeof line, "ready service=%s connection=%d", service, connection);
    say (line);
    return dealer;
}

/*  The work: the body frames changed in place.  */
static void work (const char *service, zmq_msg_t *frame)
{
    unsigned char *bytes = zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame);
    if (strcmp (service, "upper") == 0) {
        for (size_t i = 0; i < size; i++)
            if (bytes [i] >= 'a' && bytes [i] <= 'z')
                bytes [i] -= 'a' - 'A';     /*  ASCII only, as Python's bytes.upper()  */
    }
    else
    if (strcmp (service, "reverse") == 0) {
        for (size_t i = 0; i < size / 2; i++) {
            unsigned char byte = bytes [i];
            bytes [i] = bytes [size - 1 - i];
            bytes [size - 1 - i] = byte;
        }
    }
}

/*  Check a message from the broker against 7/MDP; NULL if it is good, else why not.  */
static const char *check (zmq_msg_t *frames, int count, int truncated)
{
    if (truncated)
        return "too-many-frames";
    if (count < 3 || zmq_msg_size (&frames [0]) != 0
    ||  zmq_msg_size (&frames [1]) != 6 || memcmp (zmq_msg_data (&frames [1]), MDPW, 6) != 0
    ||  zmq_msg_size (&frames [2]) != 1)
        return "not-empty-MDPW01-command";
    char command = *(char *) zmq_msg_data (&frames [2]);
    if (command == REQUEST [0]) {
        if (count < 6 || zmq_msg_size (&frames [3]) == 0 || zmq_msg_size (&frames [4]) != 0)
            return "REQUEST-is-not-client-empty-body";
        return NULL;
    }
    if (command == HEARTBEAT [0] || command == DISCONNECT [0])
        return count == 3 ? NULL : "frames-after-HEARTBEAT-or-DISCONNECT";
    return "unknown-command";
}

static int usage (void)
{
    fprintf (stderr, "usage: mdworker ENDPOINT [SERVICE] [heartbeat=SECONDS] [liveness=N] "
                     "[reconnect=SECONDS] [delay=SECONDS] [name=NAME]   (SERVICE: echo, upper or reverse)\n");
    return 2;
}

int main (int argc, char *argv [])
{
    if (argc < 2 || argv [1][0] == '-')
        return usage ();
    const char *endpoint = argv [1];
    const char *service = "echo";
    const char *name = "cworker";
    double heartbeat = 2.5, reconnect = 2.5;        /*  the spec's defaults  */
    double delay = 0;
    int liveness = 3;
    for (int i = 2; i < argc; i++) {
        char *value = strchr (argv [i], '=');
        char *end = NULL;
        if (!value)
            service = argv [i];
        else
        if (strncmp (argv [i], "heartbeat=", 10) == 0)
            heartbeat = strtod (value + 1, &end);
        else
        if (strncmp (argv [i], "reconnect=", 10) == 0)
            reconnect = strtod (value + 1, &end);
        else
        if (strncmp (argv [i], "delay=", 6) == 0)
            delay = strtod (value + 1, &end);
        else
        if (strncmp (argv [i], "liveness=", 9) == 0)
            liveness = (int) strtol (value + 1, &end, 10);
        else
        if (strncmp (argv [i], "name=", 5) == 0)
            name = value + 1;
        else {
            fprintf (stderr, "mdworker: unknown parameter %s\n", argv [i]);
            return usage ();
        }
        if (end && (*end || end == value + 1)) {
            fprintf (stderr, "mdworker: %s is not a number\n", argv [i]);
            return usage ();
        }
    }
    if (strcmp (service, "echo") && strcmp (service, "upper") && strcmp (service, "reverse")) {
        fprintf (stderr, "mdworker: unknown service %s\n", service);
        return usage ();
    }
    if (!(heartbeat > 0 && heartbeat <= 3600 && reconnect >= 0 && reconnect <= 3600 && delay >= 0 && delay <= 60
          && liveness >= 1 && liveness <= 1000 && *name && strlen (name) <= 64)) {
        fprintf (stderr, "mdworker: heartbeat, reconnect, delay, liveness or name out of range\n");
        return usage ();
    }

    struct sigaction action = { 0 };
    action.sa_handler = on_signal;              /*  no SA_RESTART: zmq_poll returns EINTR  */
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    char line [128];
    void *ctx = zmq_ctx_new ();
    int connection = 1;
    void *dealer = connect_to_broker (ctx, endpoint, service, name, connection);
    double broker_expiry = now () + heartbeat * liveness;
    double heartbeat_at = now () + heartbeat;
    long served = 0, malformed = 0;
    zmq_msg_t frames [MAX_FRAMES];

    while (!interrupted) {
        zmq_pollitem_t items [] = { { dealer, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 1, (long) (heartbeat * 1000)) == -1)
            continue;                               /*  EINTR: the loop checks `interrupted`  */
        if (items [0].revents & ZMQ_POLLIN) {
            int count = 0, truncated = 0, more = 1;
            while (more) {                          /*  one whole message, at most MAX_FRAMES kept  */
                zmq_msg_t *frame = &frames [count < MAX_FRAMES ? count : MAX_FRAMES - 1];
                if (count >= MAX_FRAMES) {
                    zmq_msg_close (frame);
                    truncated = 1;
                }
                zmq_msg_init (frame);
                if (zmq_msg_recv (frame, dealer, 0) == -1) {
                    zmq_msg_close (frame);
                    break;
                }
                more = zmq_msg_more (frame);
                if (count < MAX_FRAMES)
                    count++;
            }
            const char *why = check (frames, count, truncated);
            if (why) {                              /*  dropped: not even a sign of life  */
                snprintf (line, sizeof line, "malformed why=%s count=%ld", why, ++malformed);
                say (line);
            }
            else {
                broker_expiry = now () + heartbeat * liveness;
                char command = *(char *) zmq_msg_data (&frames [2]);
                if (command == REQUEST [0]) {
                    /*  [empty, MDPW01, REQUEST, client, empty, body...] becomes
                        [empty, MDPW01, REPLY, client, empty, work(body)...]: the same frames  */
                    zmq_msg_close (&frames [2]);
                    zmq_msg_init_size (&frames [2], 1);
                    memcpy (zmq_msg_data (&frames [2]), REPLY, 1);
                    for (int i = 5; i < count; i++)
                        work (service, &frames [i]);
                    if (delay > 0)
                        pause_for (delay);          /*  the work takes time  */
                    for (int i = 0; i < count; i++)
                        zmq_msg_send (&frames [i], dealer, i < count - 1 ? ZMQ_SNDMORE : 0);
                    heartbeat_at = now () + heartbeat;      /*  the reply was our heartbeat  */
                    snprintf (line, sizeof line, "served n=%ld", ++served);
                    say (line);
                }
                else
                if (command == DISCONNECT [0]) {
                    say ("disconnected");
                    zmq_close (dealer);
                    dealer = connect_to_broker (ctx, endpoint, service, name, ++connection);
                    broker_expiry = now () + heartbeat * liveness;
                }
            }
            for (int i = 0; i < count; i++)
                zmq_msg_close (&frames [i]);        /*  a no-op for the frames that were sent  */
        }
        else
        if (now () > broker_expiry) {               /*  the broker is silent: start again  */
            say ("broker-lost");
            zmq_close (dealer);
            dealer = NULL;
            pause_for (reconnect);
            if (interrupted)
                break;
            dealer = connect_to_broker (ctx, endpoint, service, name, ++connection);
            broker_expiry = now () + heartbeat * liveness;
        }
        if (now () >= heartbeat_at) {
            send_command (dealer, HEARTBEAT);
            heartbeat_at = now () + heartbeat;
        }
    }
    if (dealer) {
        int linger = 200;                           /*  ms for the goodbye to leave  */
        zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
        send_command (dealer, DISCONNECT);
        zmq_close (dealer);
    }
    zmq_ctx_term (ctx);
    say ("exit status=0");
    return 0;
}
