/* bareserver — the floor for fan-out: one epoll loop that accepts
 * WebSocket clients and, for each line on its feed socket, frames it once
 * and write()s it to every client. No buffering (a client whose socket is
 * full is dropped), no ping, no ring: what is left is the cost of the
 * system calls and of TCP on loopback.
 *
 *   bareserver WS_PORT FEED_PORT        (prints "READY" when listening) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  int fd;
  int open;     /* upgraded */
  GString *req; /* handshake being read */
} Client;

static int
listen_on (int port)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *)&a, sizeof a) != 0 || listen (fd, 4096) != 0) {
    perror ("bareserver: listen");
    exit (1);
  }
  return fd;
}

static char *
accept_key (const char *key)
{
  g_autofree char *s = g_strconcat (key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", NULL);
  guint8 digest[20];
  gsize len = sizeof digest;
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (c, (const guchar *)s, -1);
  g_checksum_get_digest (c, digest, &len);
  g_checksum_free (c);
  return g_base64_encode (digest, len);
}

int
main (int argc, char **argv)
{
  if (argc < 3) {
    fprintf (stderr, "usage: bareserver WS_PORT FEED_PORT\n");
    return 2;
  }
  signal (SIGPIPE, SIG_IGN);
  struct rlimit rl;
  getrlimit (RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit (RLIMIT_NOFILE, &rl);

  int wsl = listen_on (atoi (argv[1]));
  int feedl = listen_on (atoi (argv[2]));
  int ep = epoll_create1 (0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };
  epoll_ctl (ep, EPOLL_CTL_ADD, wsl, &ev);
  ev.data.fd = -2;
  epoll_ctl (ep, EPOLL_CTL_ADD, feedl, &ev);
  printf ("READY\n");
  fflush (stdout);

  GHashTable *clients = g_hash_table_new (g_direct_hash, g_direct_equal); /* fd -> Client */
  GPtrArray *open = g_ptr_array_new ();                                   /* Client* */
  int feed = -1;
  GString *feedbuf = g_string_new (NULL);
  char buf[65536];

  for (;;) {
    struct epoll_event evs[256];
    int n = epoll_wait (ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == -1) {
        int c;
        while ((c = accept4 (wsl, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          Client *cl = g_new0 (Client, 1);
          cl->fd = c;
          cl->req = g_string_new (NULL);
          g_hash_table_insert (clients, GINT_TO_POINTER (c), cl);
          struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
          epoll_ctl (ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      if (fd == -2) {
        feed = accept4 (feedl, NULL, NULL, SOCK_NONBLOCK);
        struct epoll_event e = { .events = EPOLLIN, .data.fd = -3 };
        epoll_ctl (ep, EPOLL_CTL_ADD, feed, &e);
        continue;
      }
      if (fd == -3) {
        ssize_t got = read (feed, buf, sizeof buf);
        if (got <= 0) {
          epoll_ctl (ep, EPOLL_CTL_DEL, feed, NULL);
          close (feed);
          feed = -1;
          continue;
        }
        g_string_append_len (feedbuf, buf, got);
        char *nl;
        while ((nl = memchr (feedbuf->str, '\n', feedbuf->len))) {
          gsize len = (gsize)(nl - feedbuf->str);
          /* Frame once. */
          guint8 hdr[4];
          gsize hl;
          hdr[0] = 0x81;
          if (len < 126) {
            hdr[1] = (guint8)len;
            hl = 2;
          } else {
            hdr[1] = 126;
            hdr[2] = (guint8)(len >> 8);
            hdr[3] = (guint8)len;
            hl = 4;
          }
          g_autofree guint8 *frame = g_malloc (hl + len);
          memcpy (frame, hdr, hl);
          memcpy (frame + hl, feedbuf->str, len);
          for (guint k = 0; k < open->len;) {
            Client *cl = g_ptr_array_index (open, k);
            if (write (cl->fd, frame, hl + len) != (ssize_t)(hl + len)) {
              /* No buffering here: a client that cannot take it is gone. */
              epoll_ctl (ep, EPOLL_CTL_DEL, cl->fd, NULL);
              close (cl->fd);
              g_hash_table_remove (clients, GINT_TO_POINTER (cl->fd));
              g_ptr_array_remove_index_fast (open, k);
              g_free (cl);
              continue;
            }
            k++;
          }
          g_string_erase (feedbuf, 0, (gssize)len + 1);
        }
        continue;
      }
      Client *cl = g_hash_table_lookup (clients, GINT_TO_POINTER (fd));
      if (!cl)
        continue;
      ssize_t got = read (fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN)
          continue;
        epoll_ctl (ep, EPOLL_CTL_DEL, fd, NULL);
        close (fd);
        if (cl->open)
          g_ptr_array_remove_fast (open, cl);
        if (cl->req)
          g_string_free (cl->req, TRUE);
        g_hash_table_remove (clients, GINT_TO_POINTER (fd));
        g_free (cl);
        continue;
      }
      if (cl->open)
        continue; /* viewers' frames (pongs) are ignored */
      g_string_append_len (cl->req, buf, got);
      if (!strstr (cl->req->str, "\r\n\r\n"))
        continue;
      const char *k = strcasestr (cl->req->str, "Sec-WebSocket-Key:");
      if (!k)
        continue;
      k += strlen ("Sec-WebSocket-Key:");
      while (*k == ' ')
        k++;
      g_autofree char *key = g_strndup (k, strcspn (k, "\r\n"));
      g_autofree char *acc = accept_key (key);
      g_autofree char *resp = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\n"
                                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                               "Sec-WebSocket-Accept: %s\r\n\r\n",
                                               acc);
      (void)!write (fd, resp, strlen (resp));
      g_string_free (cl->req, TRUE);
      cl->req = NULL;
      cl->open = 1;
      g_ptr_array_add (open, cl);
    }
  }
}
