// netdelay: the test bed's stand-in for tc netem on kernels without it (CONFIG_NET_SCH_NETEM). It takes the
// packets iptables queues to an NFQUEUE queue, holds each for a delay (plus a uniform jitter; never reordered) and
// lets it go on, dropping a share at random. One runs in each namespace of the test bed, on that namespace's
// incoming packets (see netns.sh: a packet held on its way out still counts against its sending socket), so
// every link gets the delay in each direction, as netem on every interface would.
//
//   netdelay QUEUE DELAY_US JITTER_US LOSS_PPM
//
// Built by deploy/netns/netns.sh with Debian's libnetfilter-queue (cc -O2 netdelay.c -lnetfilter_queue); stopped
// by SIGTERM. The iptables rule uses --queue-bypass, so packets flow undelayed if it is not running.
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY (1u << 20)

static uint32_t held_ids[CAPACITY];
static uint64_t held_due_ns[CAPACITY];
static size_t held_head, held_count;
static uint64_t delay_ns, jitter_ns, last_due_ns, dropped, overflowed;
static uint32_t loss_ppm;
static uint64_t random_state = 0x9E3779B97F4A7C15ull;
static volatile sig_atomic_t stopping;

static uint64_t next_random(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int on_packet(struct nfq_q_handle *queue, struct nfgenmsg *message, struct nfq_data *data, void *context) {
    (void)message;
    (void)context;
    struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr(data);
    if (header == NULL) return 0;
    uint32_t id = ntohl(header->packet_id);
    if (loss_ppm > 0 && next_random() % 1000000u < loss_ppm) {
        dropped++;
        return nfq_set_verdict(queue, id, NF_DROP, 0, NULL);
    }
    if (held_count == CAPACITY) {
        overflowed++;
        return nfq_set_verdict(queue, id, NF_DROP, 0, NULL);
    }
    uint64_t due = now_ns() + delay_ns;
    if (jitter_ns > 0) due = due - jitter_ns + next_random() % (2 * jitter_ns + 1);
    // In order: a packet never overtakes an earlier one (TCP would take reordering for loss).
    if (due < last_due_ns) due = last_due_ns;
    last_due_ns = due;
    size_t tail = (held_head + held_count) % CAPACITY;
    held_ids[tail] = id;
    held_due_ns[tail] = due;
    held_count++;
    return 0;
}

static void on_signal(int number) {
    (void)number;
    stopping = 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: netdelay QUEUE DELAY_US JITTER_US LOSS_PPM\n");
        return 2;
    }
    uint16_t queue_number = (uint16_t)strtoul(argv[1], NULL, 10);
    delay_ns = strtoull(argv[2], NULL, 10) * 1000ull;
    jitter_ns = strtoull(argv[3], NULL, 10) * 1000ull;
    loss_ppm = (uint32_t)strtoul(argv[4], NULL, 10);
    // Started from scripts and test runners: hold none of their pipes or descriptors open (a runner waiting for its
    // script's output to end would wait for us).
    close_range(3, ~0u, 0);
    random_state ^= now_ns() * 0x2545F4914F6CDD1Dull ^ ((uint64_t)getpid() << 32);
    // Nor their signal mask: a test runner may start its children with signals blocked, and SIGTERM must stop us.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    struct nfq_handle *handle = nfq_open();
    if (handle == NULL) { perror("netdelay: nfq_open"); return 1; }
    nfq_unbind_pf(handle, AF_INET);
    if (nfq_bind_pf(handle, AF_INET) < 0) { perror("netdelay: nfq_bind_pf"); return 1; }
    struct nfq_q_handle *queue = nfq_create_queue(handle, queue_number, &on_packet, NULL);
    if (queue == NULL) { perror("netdelay: nfq_create_queue"); return 1; }
    // Only the packet id is needed for a verdict: no payload copied to user space.
    if (nfq_set_mode(queue, NFQNL_COPY_META, 0) < 0) { perror("netdelay: nfq_set_mode"); return 1; }
    nfq_set_queue_maxlen(queue, 1u << 16);
    nfnl_rcvbufsiz(nfq_nfnlh(handle), 16u << 20);
    int fd = nfq_fd(handle);
    char buffer[1 << 16];
    fprintf(stderr, "netdelay: queue %u, delay %llu us, jitter %llu us, loss %u ppm\n", queue_number,
            (unsigned long long)(delay_ns / 1000), (unsigned long long)(jitter_ns / 1000), loss_ppm);

    while (!stopping) {
        // Let go of every packet that is due, in one verdict for all ids up to the last (they are in order).
        uint64_t now = now_ns();
        uint32_t last_released = 0;
        int released = 0;
        while (held_count > 0 && held_due_ns[held_head] <= now) {
            last_released = held_ids[held_head];
            held_head = (held_head + 1) % CAPACITY;
            held_count--;
            released = 1;
        }
        if (released) nfq_set_verdict_batch(queue, last_released, NF_ACCEPT);

        struct timespec timeout = {.tv_sec = 0, .tv_nsec = 100000000};
        if (held_count > 0) {
            uint64_t wait = held_due_ns[held_head] > now ? held_due_ns[held_head] - now : 0;
            timeout.tv_sec = (time_t)(wait / 1000000000ull);
            timeout.tv_nsec = (long)(wait % 1000000000ull);
        }
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        int ready = ppoll(&poll_fd, 1, &timeout, NULL);
        if (ready < 0 && errno != EINTR) { perror("netdelay: ppoll"); return 1; }
        if (ready <= 0) continue;
        for (;;) {
            ssize_t received = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (received > 0) {
                nfq_handle_packet(handle, buffer, (int)received);
                continue;
            }
            if (received < 0 && errno == ENOBUFS) {
                // The kernel could not hand us some packets; they were dropped (as a full link would).
                overflowed++;
                continue;
            }
            break;
        }
    }
    // Whatever is still held goes on at once.
    if (held_count > 0) {
        size_t last = (held_head + held_count - 1) % CAPACITY;
        nfq_set_verdict_batch(queue, held_ids[last], NF_ACCEPT);
    }
    fprintf(stderr, "netdelay: stopped (%llu dropped by the loss rate, %llu by overflow)\n",
            (unsigned long long)dropped, (unsigned long long)overflowed);
    nfq_destroy_queue(queue);
    nfq_close(handle);
    return 0;
}
