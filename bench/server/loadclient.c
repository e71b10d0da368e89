/* loadclient — WebSocket fan-out load: many idle viewers, a publisher, and
 * the latency from publish to each viewer.
 *
 *   loadclient --port P --clients N [--path /scores] [--workers W] [--addrs K]
 *              [--events E] [--rate R] [--settle-ms MS]
 *              [--redis-port RP --key STREAMKEY | --feed-port FP]
 *              [--server-pid PID] [--label NAME]
 *
 * Workers (forked, so each stays under the 20,000-fd limit) open the
 * connections from source addresses 127.0.0.2 … 127.0.0.(1+K), do the
 * upgrade, and then only read. Once all are up, the parent publishes E
 * events at R/s, each carrying its publish time (CLOCK_REALTIME µs) in
 * the text: "bench SEQ TIME". Through Redis (XADD key * type announce text
 * …) for skillcast and the Node server, or as ready-made JSON lines on a
 * plain TCP feed for the bare C server. Workers time each delta on
 * arrival; the parent merges histograms and prints one result line:
 *
 *   label clients held complete delivered expected p50_ms p99_ms max_ms
 *   cpu_us_per_msg rss_kib_per_conn
 *
 * CPU and RSS are the server's (from /proc/PID), measured over the publish
 * phase and from before connecting to after. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS 1200 /* log buckets, 2% wide, from 1 µs */
#define HEAD_KEEP 160 /* bytes of each message kept to find the marker */

typedef struct {
  int fd;
  uint8_t state; /* 0 connecting, 1 handshake, 2 open, 3 closed */
  uint8_t hdr_len;
  uint8_t hdr[14];
  uint8_t opcode;
  uint64_t remain; /* payload bytes left in this frame */
  uint16_t head_len;
  char head[HEAD_KEEP];
  uint32_t delivered;
  uint16_t hs_len;
} Conn;

typedef struct {
  uint64_t connected, held, complete, delivered, closed_early;
  uint64_t hist[NBUCKETS];
} Result;

/* --port P[,P...]: connections go round-robin over these ports (one
 * server process per port, as behind a balancer). */
#define MAX_PORTS 16
static int opt_ports[MAX_PORTS], opt_n_ports;
static int opt_port, opt_clients = 1000, opt_workers = 0, opt_addrs = 8, opt_events = 100,
                     opt_rate = 20, opt_settle_ms = 2000, opt_redis_port, opt_feed_port;
/* --server-pid PID[,PID...]: CPU and RSS are summed over these processes
 * (several relay processes sharing one port). */
#define MAX_SERVER_PIDS 16
static int opt_server_pids[MAX_SERVER_PIDS], opt_n_server_pids;
static const char *opt_path = "/scores", *opt_key = "skillcast:harness:events",
                  *opt_label = "server";

static uint64_t
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
bucket_of (uint64_t us)
{
  if (us < 1)
    us = 1;
  int b = (int)(log ((double)us) / log (1.02));
  return b < 0 ? 0 : b >= NBUCKETS ? NBUCKETS - 1 : b;
}

static double
bucket_ms (int b)
{
  return pow (1.02, b + 0.5) / 1000.0;
}

/* ---- worker ---- */

static void
on_message (Conn *c, Result *r)
{
  if (c->opcode != 1)
    return;
  c->head[c->head_len < HEAD_KEEP ? c->head_len : HEAD_KEEP - 1] = '\0';
  const char *m = memmem (c->head, c->head_len, "bench ", 6);
  if (!m)
    return;
  unsigned long long seq, t;
  if (sscanf (m + 6, "%llu %llu", &seq, &t) != 2)
    return;
  uint64_t now = now_us ();
  r->hist[bucket_of (now > t ? now - t : 0)]++;
  c->delivered++;
  r->delivered++;
}

static void
send_pong (Conn *c, const uint8_t *payload, size_t len)
{
  /* A masked pong echoing the ping's payload (RFC 6455 5.5.3; zero mask,
   * so the payload goes as it is): the servers ping idle clients. */
  uint8_t f[6 + 125] = { 0x8a, (uint8_t)(0x80 | len), 0, 0, 0, 0 };
  if (len > 125)
    len = 0, f[1] = 0x80;
  memcpy (f + 6, payload, len);
  (void)!write (c->fd, f, 6 + len);
}

/* Feeds bytes of the server→client stream through the frame parser. */
static void
parse (Conn *c, const uint8_t *p, size_t n, Result *r)
{
  while (n > 0) {
    if (c->remain == 0) {
      /* Header bytes; act as soon as the header is whole (a bare ping is
       * two bytes and may be the last thing in a read). */
      c->hdr[c->hdr_len++] = *p++;
      n--;
      if (c->hdr_len < 2)
        continue;
      uint8_t l7 = c->hdr[1] & 0x7f;
      size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
      if (c->hdr_len < need)
        continue;
      uint64_t len = l7;
      if (l7 == 126)
        len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
      else if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
          len = (len << 8) | c->hdr[2 + i];
      }
      uint8_t op = c->hdr[0] & 0x0f;
      if (op != 0)
        c->opcode = op;
      c->head_len = 0;
      c->hdr_len = 0;
      if (len == 0) {
        if (c->opcode == 9)
          send_pong (c, NULL, 0);
        else if (c->opcode == 8)
          c->state = 3;
        continue;
      }
      c->remain = len;
      continue;
    }
    size_t take = n < c->remain ? n : (size_t)c->remain;
    if (c->head_len < HEAD_KEEP - 1) {
      size_t k = HEAD_KEEP - 1 - c->head_len;
      if (k > take)
        k = take;
      memcpy (c->head + c->head_len, p, k);
      c->head_len += (uint16_t)k;
    }
    p += take;
    n -= take;
    c->remain -= take;
    if (c->remain == 0) {
      if (c->opcode == 9)
        send_pong (c, (const uint8_t *)c->head, c->head_len);
      else if (c->opcode == 8)
        c->state = 3;
      else
        on_message (c, r);
      c->head_len = 0;
    }
  }
}

static const char *
handshake_request (void)
{
  static char req[512];
  snprintf (req, sizeof req,
            "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n",
            opt_path, opt_port);
  return req;
}

static int
worker (int index, int n, int report_fd, int control_fd)
{
  Conn *conns = calloc ((size_t)n, sizeof (Conn));
  Result *r = calloc (1, sizeof (Result));
  int ep = epoll_create1 (0);
  const char *req = handshake_request ();
  size_t req_len = strlen (req);
  int opened = 0, connected = 0, pending = 0;
  int reported = 0;
  uint8_t buf[65536];

  struct epoll_event cev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
  epoll_ctl (ep, EPOLL_CTL_ADD, control_fd, &cev);

  for (;;) {
    /* Keep at most 256 handshakes in flight: the server's accept queue is
     * finite and a SYN flood only measures retransmit timers. */
    while (opened < n && pending < 256) {
      Conn *c = &conns[opened];
      c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (c->fd < 0) {
        fprintf (stderr, "worker %d: socket: %s\n", index, strerror (errno));
        n = opened;
        break;
      }
      struct sockaddr_in src = { .sin_family = AF_INET };
      src.sin_addr.s_addr = htonl (0x7f000002u + (uint32_t)((index * 7919 + opened) % opt_addrs));
      bind (c->fd, (struct sockaddr *)&src, sizeof src);
      int port = opt_ports[(index + opened) % opt_n_ports];
      struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
      dst.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      connect (c->fd, (struct sockaddr *)&dst, sizeof dst);
      struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u64 = (uint64_t)opened };
      epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
      opened++;
      pending++;
    }
    if (!reported && opened == n && pending == 0) {
      char line[64];
      int len = snprintf (line, sizeof line, "%d\n", connected);
      (void)!write (report_fd, line, (size_t)len);
      reported = 1;
    }
    struct epoll_event evs[256];
    int k = epoll_wait (ep, evs, 256, 1000);
    for (int i = 0; i < k; i++) {
      if (evs[i].data.u64 == UINT64_MAX) {
        /* The parent says: done. Count who is still here. */
        for (int j = 0; j < n; j++) {
          Conn *c = &conns[j];
          if (c->state == 2) {
            r->held++;
            if (c->delivered >= (uint32_t)opt_events)
              r->complete++;
          }
        }
        r->connected = (uint64_t)connected;
        (void)!write (report_fd, r, sizeof *r);
        for (int j = 0; j < n; j++)
          close (conns[j].fd);
        return 0;
      }
      Conn *c = &conns[evs[i].data.u64];
      if (c->state == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
          c->state = 3;
          pending--;
          epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
          continue;
        }
        if (evs[i].events & EPOLLOUT) {
          (void)!write (c->fd, req, req_len);
          c->state = 1;
          struct epoll_event ev = { .events = EPOLLIN, .data.u64 = evs[i].data.u64 };
          epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        continue;
      }
      if (c->state == 3)
        continue;
      ssize_t got = read (c->fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN)
          continue;
        if (c->state == 1)
          pending--;
        else if (c->state == 2)
          r->closed_early++;
        c->state = 3;
        epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
        continue;
      }
      size_t off = 0;
      if (c->state == 1) {
        /* Find the end of the 101 response; remember how many of its
         * "\r\n\r\n" bytes we have seen across reads. */
        static const char end[] = "\r\n\r\n";
        while (off < (size_t)got && c->hs_len < 4) {
          c->hs_len = buf[off] == (uint8_t)end[c->hs_len] ? c->hs_len + 1
                      : buf[off] == '\r'                  ? 1
                                                          : 0;
          off++;
        }
        if (c->hs_len < 4)
          continue;
        /* (the status line comes whole in the first read on loopback) */
        if (off > 12 && memcmp (buf, "HTTP/1.1 101", 12) != 0) {
          c->state = 3;
          pending--;
          epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
          continue;
        }
        c->state = 2;
        pending--;
        connected++;
      }
      parse (c, buf + off, (size_t)got - off, r);
      if (c->state == 3) {
        r->closed_early++;
        epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
      }
    }
  }
}

/* ---- parent ---- */

static long
proc_rss_kib (int pid)
{
  char path[64], line[256];
  snprintf (path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen (path, "r");
  long kib = -1;
  while (f && fgets (line, sizeof line, f))
    if (!strncmp (line, "VmRSS:", 6))
      kib = strtol (line + 6, NULL, 10);
  if (f)
    fclose (f);
  return kib;
}

static double
proc_cpu_us (int pid)
{
  char path[64], text[1024];
  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen (path, "r");
  if (!f)
    return -1;
  size_t n = fread (text, 1, sizeof text - 1, f);
  fclose (f);
  text[n] = '\0';
  const char *p = strrchr (text, ')');
  if (!p)
    return -1;
  unsigned long ut = 0, st = 0;
  /* fields after the command: state(3) ... utime(14) stime(15) */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) * 1e6 / (double)sysconf (_SC_CLK_TCK);
}

static int
tcp_connect (int port)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror ("connect publisher");
    exit (1);
  }
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void
publish (int fd, int seq)
{
  char text[96], cmd[512];
  snprintf (text, sizeof text, "bench %d %llu", seq, (unsigned long long)now_us ());
  int len;
  if (opt_redis_port) {
    len = snprintf (cmd, sizeof cmd,
                    "*7\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$4\r\ntype\r\n$8\r\nannounce\r\n"
                    "$4\r\ntext\r\n$%zu\r\n%s\r\n",
                    strlen (opt_key), opt_key, strlen (text), text);
  } else {
    len = snprintf (cmd, sizeof cmd, "{\"type\":\"delta\",\"id\":\"%d-0\",\"announce\":\"%s\"}\n",
                    seq + 1, text);
  }
  if (write (fd, cmd, (size_t)len) != len)
    perror ("publish");
  if (opt_redis_port) {
    char reply[256];
    (void)!read (fd, reply, sizeof reply); /* the new id; one short reply per XADD */
  }
}

static long
servers_rss_kib (void)
{
  long sum = 0;
  if (!opt_n_server_pids)
    return -1;
  for (int i = 0; i < opt_n_server_pids; i++)
    sum += proc_rss_kib (opt_server_pids[i]);
  return sum;
}

static double
servers_cpu_us (void)
{
  double sum = 0;
  if (!opt_n_server_pids)
    return -1;
  for (int i = 0; i < opt_n_server_pids; i++)
    sum += proc_cpu_us (opt_server_pids[i]);
  return sum;
}

int
main (int argc, char **argv)
{
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp (k, "--port")) {
      for (char *tok = strtok ((char *)v, ","); tok && opt_n_ports < MAX_PORTS;
           tok = strtok (NULL, ","))
        opt_ports[opt_n_ports++] = atoi (tok);
      opt_port = opt_ports[0];
    } else if (!strcmp (k, "--clients"))
      opt_clients = atoi (v);
    else if (!strcmp (k, "--workers"))
      opt_workers = atoi (v);
    else if (!strcmp (k, "--addrs"))
      opt_addrs = atoi (v);
    else if (!strcmp (k, "--events"))
      opt_events = atoi (v);
    else if (!strcmp (k, "--rate"))
      opt_rate = atoi (v);
    else if (!strcmp (k, "--settle-ms"))
      opt_settle_ms = atoi (v);
    else if (!strcmp (k, "--redis-port"))
      opt_redis_port = atoi (v);
    else if (!strcmp (k, "--key"))
      opt_key = v;
    else if (!strcmp (k, "--feed-port"))
      opt_feed_port = atoi (v);
    else if (!strcmp (k, "--server-pid")) {
      for (char *tok = strtok ((char *)v, ","); tok && opt_n_server_pids < MAX_SERVER_PIDS;
           tok = strtok (NULL, ","))
        opt_server_pids[opt_n_server_pids++] = atoi (tok);
    }
    else if (!strcmp (k, "--path"))
      opt_path = v;
    else if (!strcmp (k, "--label"))
      opt_label = v;
    else {
      fprintf (stderr, "loadclient: unknown option %s\n", k);
      return 2;
    }
  }
  if (!opt_port || (!opt_redis_port && !opt_feed_port)) {
    fprintf (stderr, "loadclient: need --port and --redis-port or --feed-port\n");
    return 2;
  }
  signal (SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit (RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit (RLIMIT_NOFILE, &rl);
  int per_worker_max = (int)rl.rlim_cur - 64;
  if (opt_workers <= 0)
    opt_workers = (opt_clients + per_worker_max - 1) / per_worker_max;
  if (opt_workers < 1)
    opt_workers = 1;

  long rss_before = servers_rss_kib ();
  int *controls = calloc ((size_t)opt_workers, sizeof (int));
  pid_t *pids = calloc ((size_t)opt_workers, sizeof (pid_t));
  FILE **reports = calloc ((size_t)opt_workers, sizeof (FILE *));
  for (int w = 0; w < opt_workers; w++) {
    int n = opt_clients / opt_workers + (w < opt_clients % opt_workers ? 1 : 0);
    int ctl[2], report[2];
    (void)!pipe (ctl);
    (void)!pipe (report);
    pids[w] = fork ();
    if (pids[w] == 0) {
      close (ctl[1]);
      close (report[0]);
      _exit (worker (w, n, report[1], ctl[0]));
    }
    close (ctl[0]);
    close (report[1]);
    controls[w] = ctl[1];
    reports[w] = fdopen (report[0], "r");
  }

  /* Wait for every worker's "connected" line. */
  int connected = 0;
  for (int w = 0; w < opt_workers; w++) {
    char line[64];
    if (!fgets (line, sizeof line, reports[w])) {
      fprintf (stderr, "loadclient: a worker died\n");
      return 1;
    }
    connected += atoi (line);
  }
  usleep (300 * 1000); /* let the server finish its snapshots */
  long rss_after = servers_rss_kib ();
  fprintf (stderr, "%s: %d/%d connected; server RSS %ld -> %ld KiB\n", opt_label, connected,
           opt_clients, rss_before, rss_after);

  int pub = tcp_connect (opt_redis_port ? opt_redis_port : opt_feed_port);
  double cpu0 = servers_cpu_us ();
  struct timespec next;
  clock_gettime (CLOCK_MONOTONIC, &next);
  for (int i = 0; i < opt_events; i++) {
    publish (pub, i);
    next.tv_nsec += 1000000000L / opt_rate;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  usleep ((useconds_t)opt_settle_ms * 1000);
  double cpu1 = servers_cpu_us ();
  close (pub);

  Result total = { 0 };
  for (int w = 0; w < opt_workers; w++)
    (void)!write (controls[w], "x", 1);
  for (int w = 0; w < opt_workers; w++) {
    Result r;
    if (fread (&r, sizeof r, 1, reports[w]) != 1) {
      fprintf (stderr, "loadclient: a worker died before reporting\n");
      return 1;
    }
    total.connected += r.connected;
    total.held += r.held;
    total.complete += r.complete;
    total.delivered += r.delivered;
    total.closed_early += r.closed_early;
    for (int b = 0; b < NBUCKETS; b++)
      total.hist[b] += r.hist[b];
  }
  for (int w = 0; w < opt_workers; w++)
    waitpid (pids[w], NULL, 0);

  double p50 = 0, p99 = 0, pmax = 0;
  uint64_t seen = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    if (!total.hist[b])
      continue;
    seen += total.hist[b];
    if (!p50 && seen * 2 >= total.delivered)
      p50 = bucket_ms (b);
    if (!p99 && seen * 100 >= total.delivered * 99)
      p99 = bucket_ms (b);
    pmax = bucket_ms (b);
  }
  double cpu_per_msg = total.delivered && cpu0 >= 0 ? (cpu1 - cpu0) / (double)total.delivered : -1;
  double rss_per_conn
      = connected && rss_before >= 0 ? (double)(rss_after - rss_before) / (double)connected : -1;
  printf ("%-10s clients=%d held=%llu complete=%llu delivered=%llu expected=%llu p50_ms=%.2f "
          "p99_ms=%.2f max_ms=%.2f cpu_us_per_msg=%.2f rss_kib_per_conn=%.2f\n",
          opt_label, opt_clients, (unsigned long long)total.held,
          (unsigned long long)total.complete, (unsigned long long)total.delivered,
          (unsigned long long)total.held * (unsigned long long)opt_events, p50, p99, pmax,
          cpu_per_msg, rss_per_conn);
  return 0;
}
