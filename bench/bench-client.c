/* SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 *
 * The harness's own HTTP/1.1 client, on raw sockets so that it costs the
 * least of anything in the measurement.
 *
 *   bench-client seq       sequential keep-alive POSTs on one socket: the
 *                          raw-socket floor, latency percentiles
 *   bench-client stream    S concurrent SSE streams (R rounds each): time to
 *                          first token, per-chunk latency, stalls, peak RSS
 *                          of given pids while the streams are open
 *   bench-client coldstart fork+exec a server, time to its first 2xx answer
 *   bench-client body      print the JSON request body (for the wrk scripts)
 *   bench-client freeport  print a free loopback port
 *
 * Per-chunk latency relies on the mock writing "@<CLOCK_MONOTONIC ns>;" as
 * each delta's text: the client subtracts it from its own clock on arrival.
 * Output is one line of key=value pairs.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- options ---------------------------------------------------------- */

static int         opt_port;
static const char *opt_path;
static const char *opt_kind = "openai";
static const char *opt_model = "bench";
static int         opt_stream;
static int         opt_n = 1000;
static int         opt_warmup = 100;
static int         opt_streams = 1;
static int         opt_rounds = 1;
static int         opt_expect_chunks = -1;
static int         opt_stall_ms = 2000;
static int         opt_timeout_ms = 30000;
static const char *opt_rss_pids;
static const char *opt_log = "/dev/null";
static int         opt_keep;
static int         opt_verbose;
static char        opt_headers[4096];
static size_t      opt_headers_len;

/* ---- small helpers ----------------------------------------------------- */

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct
{
  int64_t *v;
  size_t   n, cap;
} Samples;

static void
samples_add (Samples *s, int64_t x)
{
  if (s->n == s->cap)
    {
      s->cap = s->cap ? s->cap * 2 : 1024;
      s->v = realloc (s->v, s->cap * sizeof *s->v);
      if (!s->v)
        abort ();
    }
  s->v[s->n++] = x;
}

static int
cmp_i64 (const void *a, const void *b)
{
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in µs. */
static double
pct_us (Samples *s, double p)
{
  if (s->n == 0)
    return -1;
  size_t i = (size_t) (p / 100.0 * (double) s->n);
  if (i >= s->n)
    i = s->n - 1;
  return (double) s->v[i] / 1000.0;
}

static double
mean_us (Samples *s)
{
  if (s->n == 0)
    return -1;
  double sum = 0;
  for (size_t i = 0; i < s->n; i++)
    sum += (double) s->v[i];
  return sum / (double) s->n / 1000.0;
}

static void
print_pcts (const char *name, Samples *s)
{
  if (s->n > 0)
    qsort (s->v, s->n, sizeof *s->v, cmp_i64);
  printf (" %s_p50_us=%.1f %s_p90_us=%.1f %s_p99_us=%.1f %s_mean_us=%.1f %s_max_us=%.1f",
          name, pct_us (s, 50), name, pct_us (s, 90), name, pct_us (s, 99), name,
          mean_us (s), name, s->n ? (double) s->v[s->n - 1] / 1000.0 : -1.0);
}

static long
rss_kb_of (const char *pids)
{
  long        total = 0;
  char        buf[4096];
  const char *p = pids;
  while (p && *p)
    {
      long pid = strtol (p, (char **) &p, 10);
      if (*p == ',')
        p++;
      char path[64];
      snprintf (path, sizeof path, "/proc/%ld/status", pid);
      int fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      ssize_t n = read (fd, buf, sizeof buf - 1);
      close (fd);
      if (n <= 0)
        continue;
      buf[n] = 0;
      char *r = strstr (buf, "VmRSS:");
      if (r)
        total += strtol (r + 6, NULL, 10);
    }
  return total;
}

/* ---- requests --------------------------------------------------------- */

static int
is_anthropic (void)
{
  return strcmp (opt_kind, "anthropic") == 0;
}

static int
build_body (char *buf, size_t size)
{
  if (is_anthropic ())
    return snprintf (buf, size,
                     "{\"model\":\"%s\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"Say hello.\"}]%s}",
                     opt_model, opt_stream ? ",\"stream\":true" : "");
  return snprintf (buf, size,
                   "{\"model\":\"%s\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
                   "\"content\":\"Say hello.\"}]%s}",
                   opt_model, opt_stream ? ",\"stream\":true" : "");
}

static char   request[8192];
static size_t request_len;

static void
build_request (void)
{
  char        body[2048];
  int         blen = build_body (body, sizeof body);
  const char *path = opt_path ? opt_path : is_anthropic () ? "/v1/messages"
                                                           : "/v1/chat/completions";
  request_len = (size_t) snprintf (request, sizeof request,
                                   "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Authorization: Bearer sk-bench\r\n%s"
                                   "%.*s"
                                   "Content-Length: %d\r\n\r\n%s",
                                   path, opt_port,
                                   is_anthropic () ? "x-api-key: sk-bench\r\nanthropic-version: 2023-06-01\r\n" : "",
                                   (int) opt_headers_len, opt_headers, blen, body);
}

static int
connect_loopback (int port, int nonblock)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* ---- incremental response parser -------------------------------------- */

enum
{
  P_HEAD,
  P_BODY_LEN,
  P_BODY_CLOSE,
  P_CHUNK_SIZE,
  P_CHUNK_DATA,
  P_CHUNK_CRLF,
  P_TRAILER,
  P_DONE
};

typedef struct
{
  int    fd;
  int    connected;
  size_t sent;
  char  *buf;
  size_t len, cap;
  int    state;
  int    status;
  int    keepalive;
  long   left;
  /* marker scanner */
  int     mstate;
  int64_t mval;
  /* per response */
  int64_t t_send, t_last;
  int     markers;
  int64_t maxgap;
  int     rounds_done;
  int     finished; /* all rounds done, or failed */
  int     failed;
  int     bad_count;
} Conn;

static Samples s_lat, s_ttft, s_chunk;
static int64_t g_maxgap;

static void
on_marker (Conn *c, int64_t stamp, int64_t t)
{
  int64_t gap = t - (c->markers == 0 ? c->t_send : c->t_last);
  if (gap > c->maxgap)
    c->maxgap = gap;
  if (c->markers == 0)
    samples_add (&s_ttft, t - c->t_send);
  samples_add (&s_chunk, t - stamp);
  c->markers++;
  c->t_last = t;
}

static void
scan_markers (Conn *c, const char *p, size_t n, int64_t t)
{
  for (size_t i = 0; i < n; i++)
    {
      char ch = p[i];
      if (c->mstate == 0)
        {
          if (ch == '@')
            {
              c->mstate = 1;
              c->mval = 0;
            }
        }
      else if (ch >= '0' && ch <= '9')
        {
          c->mval = c->mval * 10 + (ch - '0');
          c->mstate = 2;
        }
      else
        {
          if (ch == ';' && c->mstate == 2)
            on_marker (c, c->mval, t);
          c->mstate = ch == '@';
          c->mval = 0;
        }
    }
}

static void
parser_reset (Conn *c)
{
  c->state = P_HEAD;
  c->status = 0;
  c->keepalive = 1;
  c->left = 0;
  c->mstate = 0;
  c->markers = 0;
  c->maxgap = 0;
}

/* Consumes what it can of c->buf; returns 1 when the response is complete,
 * -1 on a malformed response, 0 when it needs more. */
static int
parse (Conn *c, int64_t t)
{
  size_t pos = 0;
  int    ret = 0;
  while (ret == 0)
    {
      if (c->state == P_HEAD)
        {
          char *e = memmem (c->buf + pos, c->len - pos, "\r\n\r\n", 4);
          if (!e)
            break;
          char  *h = c->buf + pos;
          size_t hl = (size_t) (e - h) + 4;
          if (hl < 12 || memcmp (h, "HTTP/1.", 7) != 0)
            return -1;
          c->status = atoi (h + 9);
          if (h[7] == '0')
            c->keepalive = 0;
          int chunked = 0, has_len = 0;
          for (char *l = memchr (h, '\n', hl); l && l < e; l = memchr (l + 1, '\n', (size_t) (e - l)))
            {
              char *s = l + 1;
              if (strncasecmp (s, "content-length:", 15) == 0)
                {
                  c->left = strtol (s + 15, NULL, 10);
                  has_len = 1;
                }
              else if (strncasecmp (s, "transfer-encoding:", 18) == 0 && memmem (s, (size_t) (e - s) < 64 ? (size_t) (e - s) : 64, "chunked", 7))
                chunked = 1;
              else if (strncasecmp (s, "connection:", 11) == 0)
                {
                  char *v = s + 11;
                  while (*v == ' ')
                    v++;
                  if (strncasecmp (v, "close", 5) == 0)
                    c->keepalive = 0;
                }
            }
          pos += hl;
          if (c->status == 100)
            continue; /* interim response: parse the real one */
          if (opt_verbose)
            fprintf (stderr, "%.*s", (int) hl, h);
          if (chunked)
            c->state = P_CHUNK_SIZE;
          else if (has_len)
            c->state = c->left > 0 ? P_BODY_LEN : P_DONE;
          else
            {
              c->state = P_BODY_CLOSE;
              c->keepalive = 0;
            }
          if (c->state == P_DONE)
            ret = 1;
        }
      else if (c->state == P_BODY_LEN)
        {
          size_t n = c->len - pos;
          if ((long) n > c->left)
            n = (size_t) c->left;
          if (n == 0)
            break;
          scan_markers (c, c->buf + pos, n, t);
          if (opt_verbose)
            fwrite (c->buf + pos, 1, n, stderr);
          pos += n;
          c->left -= (long) n;
          if (c->left == 0)
            {
              c->state = P_DONE;
              ret = 1;
            }
        }
      else if (c->state == P_BODY_CLOSE)
        {
          scan_markers (c, c->buf + pos, c->len - pos, t);
          pos = c->len;
          break;
        }
      else if (c->state == P_CHUNK_SIZE)
        {
          char *e = memmem (c->buf + pos, c->len - pos, "\r\n", 2);
          if (!e)
            break;
          char *endp;
          c->left = strtol (c->buf + pos, &endp, 16);
          if (endp == c->buf + pos || c->left < 0)
            return -1;
          pos = (size_t) (e - c->buf) + 2;
          c->state = c->left == 0 ? P_TRAILER : P_CHUNK_DATA;
        }
      else if (c->state == P_CHUNK_DATA)
        {
          size_t n = c->len - pos;
          if ((long) n > c->left)
            n = (size_t) c->left;
          if (n == 0)
            break;
          scan_markers (c, c->buf + pos, n, t);
          if (opt_verbose)
            fwrite (c->buf + pos, 1, n, stderr);
          pos += n;
          c->left -= (long) n;
          if (c->left == 0)
            c->state = P_CHUNK_CRLF;
        }
      else if (c->state == P_CHUNK_CRLF)
        {
          if (c->len - pos < 2)
            break;
          pos += 2;
          c->state = P_CHUNK_SIZE;
        }
      else if (c->state == P_TRAILER)
        {
          char *e = memmem (c->buf + pos, c->len - pos, "\r\n", 2);
          if (!e)
            break;
          int empty = e == c->buf + pos;
          pos = (size_t) (e - c->buf) + 2;
          if (empty)
            {
              c->state = P_DONE;
              ret = 1;
            }
        }
      else
        break;
    }
  memmove (c->buf, c->buf + pos, c->len - pos);
  c->len -= pos;
  return ret;
}

/* Returns bytes read, 0 on EOF, -1 on error (EAGAIN included). */
static ssize_t
conn_read (Conn *c)
{
  if (c->cap - c->len < 16384)
    {
      c->cap = c->cap ? c->cap * 2 : 32768;
      c->buf = realloc (c->buf, c->cap);
      if (!c->buf)
        abort ();
    }
  return recv (c->fd, c->buf + c->len, c->cap - c->len, 0);
}

static int
send_all (int fd, const char *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (fd, p, n, MSG_NOSIGNAL);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += w;
      n -= (size_t) w;
    }
  return 0;
}

/* One blocking request/response on c->fd. Returns the status or -1. */
static int
roundtrip (Conn *c)
{
  parser_reset (c);
  c->t_send = now_ns ();
  if (send_all (c->fd, request, request_len) < 0)
    return -1;
  for (;;)
    {
      ssize_t r = conn_read (c);
      if (r < 0 && errno == EINTR)
        continue;
      int64_t t = now_ns ();
      if (r <= 0)
        {
          if (r == 0 && c->state == P_BODY_CLOSE)
            return c->status;
          return -1;
        }
      c->len += (size_t) r;
      int p = parse (c, t);
      if (p < 0)
        return -1;
      if (p > 0)
        return c->status;
    }
}

/* ---- modes ------------------------------------------------------------ */

static int
mode_seq (void)
{
  Conn c = { 0 };
  c.fd = connect_loopback (opt_port, 0);
  if (c.fd < 0)
    {
      perror ("connect");
      return 1;
    }
  struct timeval tv = { .tv_sec = opt_timeout_ms / 1000, .tv_usec = (opt_timeout_ms % 1000) * 1000 };
  setsockopt (c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int     errors = 0, reconnects = 0;
  int64_t t0 = now_ns ();
  for (int i = 0; i < opt_warmup + opt_n; i++)
    {
      int st = roundtrip (&c);
      if (st < 200 || st > 299)
        {
          errors++;
          if (st < 0 || !c.keepalive)
            {
              if (errors > 10)
                break;
            }
        }
      else if (i >= opt_warmup)
        samples_add (&s_lat, now_ns () - c.t_send);
      if (st < 0 || !c.keepalive)
        {
          close (c.fd);
          c.len = 0;
          reconnects++;
          c.fd = connect_loopback (opt_port, 0);
          if (c.fd < 0)
            break;
          setsockopt (c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
    }
  double secs = (double) (now_ns () - t0) / 1e9;
  printf ("ok=%zu errors=%d reconnects=%d markers=%d rps=%.0f", s_lat.n, errors, reconnects,
          c.markers, (double) (opt_warmup + opt_n) / secs);
  print_pcts ("lat", &s_lat);
  printf ("\n");
  fflush (stdout);
  free (c.buf);
  if (c.fd >= 0)
    close (c.fd);
  return s_lat.n == (size_t) opt_n ? 0 : 1;
}

static int
mode_stream (void)
{
  int   n = opt_streams;
  Conn *cs = calloc ((size_t) n, sizeof *cs);
  int   ep = epoll_create1 (EPOLL_CLOEXEC);
  int   open_count = 0;
  for (int i = 0; i < n; i++)
    {
      cs[i].fd = connect_loopback (opt_port, 1);
      if (cs[i].fd < 0)
        {
          cs[i].finished = cs[i].failed = 1;
          continue;
        }
      struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &cs[i] };
      epoll_ctl (ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
      open_count++;
    }
  int64_t            t0 = now_ns ();
  int64_t            deadline = t0 + (int64_t) opt_timeout_ms * 1000000;
  int64_t            next_rss = t0;
  long               rss_max = 0;
  int                complete = 0, stalled = 0, wrong = 0;
  struct epoll_event evs[256];
  while (open_count > 0)
    {
      int64_t now = now_ns ();
      if (now >= deadline)
        break;
      if (opt_rss_pids && now >= next_rss)
        {
          long r = rss_kb_of (opt_rss_pids);
          if (r > rss_max)
            rss_max = r;
          next_rss = now + 100000000;
        }
      int k = epoll_wait (ep, evs, 256, 100);
      if (k < 0 && errno != EINTR)
        break;
      int64_t t = now_ns ();
      for (int i = 0; i < k; i++)
        {
          Conn *c = evs[i].data.ptr;
          if (!c->connected)
            {
              int       err = 0;
              socklen_t sl = sizeof err;
              getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
              if (err || (evs[i].events & (EPOLLERR | EPOLLHUP)))
                goto fail;
              c->connected = 1;
              parser_reset (c);
              c->t_send = t;
              if (send_all (c->fd, request, request_len) < 0)
                goto fail;
              struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
              epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
              continue;
            }
          ssize_t r = conn_read (c);
          if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
          if (r <= 0)
            {
              if (r == 0 && c->state == P_BODY_CLOSE)
                goto response_done;
              goto fail;
            }
          c->len += (size_t) r;
          int p = parse (c, t);
          if (p < 0)
            goto fail;
          if (p == 0)
            continue;
        response_done:
          if (c->status != 200)
            goto fail;
          if (c->maxgap > g_maxgap)
            g_maxgap = c->maxgap;
          if (opt_expect_chunks >= 0 && c->markers != opt_expect_chunks)
            {
              wrong++;
              if (opt_verbose)
                fprintf (stderr, "stream got %d chunks, expected %d\n", c->markers, opt_expect_chunks);
            }
          else if (c->maxgap > (int64_t) opt_stall_ms * 1000000)
            stalled++;
          else
            complete++;
          c->rounds_done++;
          if (c->rounds_done < opt_rounds && c->keepalive)
            {
              parser_reset (c);
              c->t_send = now_ns ();
              if (send_all (c->fd, request, request_len) < 0)
                goto fail;
              continue;
            }
          if (c->rounds_done < opt_rounds)
            {
              /* The server closed: the next round on a fresh connection. */
              epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
              close (c->fd);
              c->len = 0;
              c->connected = 0;
              c->fd = connect_loopback (opt_port, 1);
              if (c->fd < 0)
                goto fail_closed;
              struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
              epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
              continue;
            }
          c->finished = 1;
          epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
          close (c->fd);
          open_count--;
          continue;
        fail:
          epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
          close (c->fd);
        fail_closed:
          if (opt_verbose)
            fprintf (stderr, "stream failed: status %d state %d errno %d\n", c->status, c->state, errno);
          c->finished = c->failed = 1;
          open_count--;
        }
    }
  int failed = 0, unfinished = 0;
  for (int i = 0; i < n; i++)
    {
      if (cs[i].failed)
        failed += opt_rounds - cs[i].rounds_done;
      else if (!cs[i].finished)
        {
          unfinished += opt_rounds - cs[i].rounds_done;
          close (cs[i].fd);
        }
    }
  int total = n * opt_rounds;
  printf ("streams=%d complete=%d stalled=%d wrong_chunks=%d failed=%d unfinished=%d chunks=%zu maxgap_ms=%.1f secs=%.2f",
          total, complete, stalled, wrong, failed, unfinished, s_chunk.n,
          (double) g_maxgap / 1e6, (double) (now_ns () - t0) / 1e9);
  print_pcts ("ttft", &s_ttft);
  print_pcts ("chunk", &s_chunk);
  if (opt_rss_pids)
    printf (" rss_open_kb=%ld", rss_max);
  printf ("\n");
  fflush (stdout);
  for (int i = 0; i < n; i++)
    free (cs[i].buf);
  free (cs);
  close (ep);
  return complete == total ? 0 : 1;
}

static int
mode_coldstart (char **cmd)
{
  int64_t t0 = now_ns ();
  pid_t   pid = fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
      /* Own process group: node servers spawn children, the harness stops
       * the whole group. */
      setpgid (0, 0);
      int fd = open (opt_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0)
        {
          dup2 (fd, 1);
          dup2 (fd, 2);
        }
      int nul = open ("/dev/null", O_RDONLY);
      if (nul >= 0)
        dup2 (nul, 0);
      execvp (cmd[0], cmd);
      perror (cmd[0]);
      _exit (127);
    }
  setpgid (pid, pid);
  int64_t        deadline = t0 + (int64_t) opt_timeout_ms * 1000000;
  int            ok = 0, status = -1;
  struct timeval tv = { .tv_sec = 5 };
  while (now_ns () < deadline)
    {
      int ws;
      if (waitpid (pid, &ws, WNOHANG) == pid)
        {
          fprintf (stderr, "coldstart: %s exited early (status %d)\n", cmd[0], ws);
          printf ("coldstart_ms=-1.0 pid=0 status=-1\n");
          return 1;
        }
      Conn c = { 0 };
      c.fd = connect_loopback (opt_port, 0);
      if (c.fd >= 0)
        {
          setsockopt (c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          status = roundtrip (&c);
          close (c.fd);
          free (c.buf);
          if (status >= 200 && status <= 299)
            {
              ok = 1;
              break;
            }
        }
      usleep (status > 0 ? 20000 : 1000);
    }
  double ms = (double) (now_ns () - t0) / 1e6;
  printf ("coldstart_ms=%.1f pid=%d status=%d\n", ok ? ms : -1.0, (int) pid, status);
  fflush (stdout);
  if (!opt_keep || !ok)
    {
      kill (-pid, SIGTERM);
      for (int i = 0; i < 300; i++)
        {
          if (waitpid (pid, NULL, WNOHANG) == pid)
            break;
          usleep (10000);
        }
      kill (-pid, SIGKILL);
      waitpid (pid, NULL, WNOHANG);
    }
  return ok ? 0 : 1;
}

static int
mode_freeport (void)
{
  int                fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET };
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || getsockname (fd, (struct sockaddr *) &sa, &sl) < 0)
    return 1;
  printf ("%d\n", ntohs (sa.sin_port));
  close (fd);
  return 0;
}

static void
usage (void)
{
  fprintf (stderr,
           "usage: bench-client MODE [options] [-- command...]\n"
           "modes: seq stream coldstart body freeport\n"
           "  --port P --path PATH --kind openai|anthropic --model M --stream\n"
           "  --header 'Name: value' (repeatable)\n"
           "  seq:       --n N --warmup W\n"
           "  stream:    --streams S --rounds R --expect-chunks K --stall-ms MS\n"
           "             --rss-pids PID,PID --timeout-ms MS\n"
           "  coldstart: --timeout-ms MS --log FILE --keep -- command args...\n"
           "  -v         print responses to stderr\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    usage ();
  const char *mode = argv[1];
  char      **cmd = NULL;
  for (int i = 2; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--") == 0)
        {
          cmd = argv + i + 1;
          break;
        }
      if (strcmp (a, "--stream") == 0)
        opt_stream = 1;
      else if (strcmp (a, "--keep") == 0)
        opt_keep = 1;
      else if (strcmp (a, "-v") == 0)
        opt_verbose = 1;
      else if (i + 1 >= argc)
        usage ();
      else if (strcmp (a, "--port") == 0)
        opt_port = atoi (argv[++i]);
      else if (strcmp (a, "--path") == 0)
        opt_path = argv[++i];
      else if (strcmp (a, "--kind") == 0)
        opt_kind = argv[++i];
      else if (strcmp (a, "--model") == 0)
        opt_model = argv[++i];
      else if (strcmp (a, "--n") == 0)
        opt_n = atoi (argv[++i]);
      else if (strcmp (a, "--warmup") == 0)
        opt_warmup = atoi (argv[++i]);
      else if (strcmp (a, "--streams") == 0)
        opt_streams = atoi (argv[++i]);
      else if (strcmp (a, "--rounds") == 0)
        opt_rounds = atoi (argv[++i]);
      else if (strcmp (a, "--expect-chunks") == 0)
        opt_expect_chunks = atoi (argv[++i]);
      else if (strcmp (a, "--stall-ms") == 0)
        opt_stall_ms = atoi (argv[++i]);
      else if (strcmp (a, "--timeout-ms") == 0)
        opt_timeout_ms = atoi (argv[++i]);
      else if (strcmp (a, "--rss-pids") == 0)
        opt_rss_pids = argv[++i];
      else if (strcmp (a, "--log") == 0)
        opt_log = argv[++i];
      else if (strcmp (a, "--header") == 0)
        {
          int w = snprintf (opt_headers + opt_headers_len, sizeof opt_headers - opt_headers_len,
                            "%s\r\n", argv[++i]);
          if (w < 0 || (size_t) w >= sizeof opt_headers - opt_headers_len)
            usage ();
          opt_headers_len += (size_t) w;
        }
      else
        usage ();
    }
  signal (SIGPIPE, SIG_IGN);
  if (strcmp (mode, "stream") == 0)
    opt_stream = 1;
  build_request ();

  if (strcmp (mode, "freeport") == 0)
    return mode_freeport ();
  if (strcmp (mode, "body") == 0)
    {
      char body[2048];
      build_body (body, sizeof body);
      puts (body);
      return 0;
    }
  if (opt_port <= 0)
    usage ();
  if (strcmp (mode, "seq") == 0)
    return mode_seq ();
  if (strcmp (mode, "stream") == 0)
    return mode_stream ();
  if (strcmp (mode, "coldstart") == 0 && cmd && cmd[0])
    return mode_coldstart (cmd);
  usage ();
  return 2;
}
