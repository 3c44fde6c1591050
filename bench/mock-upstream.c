/* SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 *
 * A fast mock LLM upstream for the benchmark harness.
 *
 * It must never be the bottleneck: one epoll loop per thread (SO_REUSEPORT
 * listeners), keep-alive HTTP/1.1, prebuilt responses sent with a single
 * write, pipelined requests answered with one write per read.
 *
 *   POST /v1/chat/completions   OpenAI chat completion, or an SSE stream when
 *                               the body has "stream": true
 *   POST /v1/messages           the same in Anthropic Messages shape
 *   GET  /health                200 "ok"
 *
 * Streams carry N content deltas; each delta's text is "@<ns>;" where <ns> is
 * CLOCK_MONOTONIC at the moment the mock wrote it, so a client on the same host
 * measures per-chunk latency through any proxy, translating ones included
 * (the text survives translation where custom fields would not).
 *
 * Chunk count and delay, first match wins: headers x-mock-chunks /
 * x-mock-delay-us; query ?chunks=N&delay_us=D; tokens "-c<N>" / "-d<us>" in
 * the request's model name (the only knob that survives a proxy rewriting
 * the request, e.g. model "bench-c20-d5000"); --chunks / --delay-us.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_CHUNKS 100000
#define READ_SIZE  16384

enum
{
  KIND_OPENAI,
  KIND_ANTHROPIC
};

typedef struct Conn Conn;
struct Conn
{
  int    fd;
  char  *in;
  size_t in_len, in_cap;
  char  *out;
  size_t out_off, out_len, out_cap;
  int    want_out;
  int    close_after;
  /* Streaming state: while a stream is open, later pipelined requests wait. */
  int     streaming;
  int     kind;
  int     chunks_total;
  int     chunk_next;
  int64_t delay_ns;
  int64_t next_due;
  Conn   *snext, *sprev;
};

typedef struct
{
  int   epfd;
  int   lfd;
  Conn *streams; /* doubly-linked list of connections with a stream open */
} Worker;

static int                   opt_chunks = 20;
static long                  opt_delay_us = 0;
static volatile sig_atomic_t quit;

static const char OPENAI_BODY[] = "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"created\":1700000000,"
                                  "\"model\":\"bench\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                                  "\"content\":\"Hello from the mock upstream.\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                                  "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":7,\"total_tokens\":17}}";

static const char ANTHROPIC_BODY[] = "{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"bench\","
                                     "\"content\":[{\"type\":\"text\",\"text\":\"Hello from the mock upstream.\"}],"
                                     "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                                     "\"usage\":{\"input_tokens\":10,\"output_tokens\":7}}";

static char   openai_resp[1024], anthropic_resp[1024];
static size_t openai_resp_len, anthropic_resp_len;

static const char NOT_FOUND[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"
                                "{\"error\":\"not found\"}";
static const char HEALTH[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
static const char BAD_REQUEST[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char STREAM_HEADERS[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n";

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
buf_reserve (char **buf, size_t *cap, size_t need)
{
  if (need <= *cap)
    return;
  size_t n = *cap ? *cap : 4096;
  while (n < need)
    n *= 2;
  char *p = realloc (*buf, n);
  if (!p)
    {
      perror ("realloc");
      exit (1);
    }
  *buf = p;
  *cap = n;
}

static void
out_append (Conn *c, const char *data, size_t len)
{
  if (c->out_off > 0 && c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  buf_reserve (&c->out, &c->out_cap, c->out_len + len);
  memcpy (c->out + c->out_len, data, len);
  c->out_len += len;
}

static void
conn_close (Worker *w, Conn *c)
{
  if (c->streaming)
    {
      if (c->sprev)
        c->sprev->snext = c->snext;
      else
        w->streams = c->snext;
      if (c->snext)
        c->snext->sprev = c->sprev;
    }
  close (c->fd); /* also removes it from the epoll set */
  free (c->in);
  free (c->out);
  free (c);
}

/* Returns -1 when the connection died (and was freed). */
static int
conn_flush (Worker *w, Conn *c)
{
  while (c->out_off < c->out_len)
    {
      ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off,
                        MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            break;
          conn_close (w, c);
          return -1;
        }
      c->out_off += (size_t) n;
    }
  int pending = c->out_off < c->out_len;
  if (!pending)
    {
      c->out_off = c->out_len = 0;
      if (c->close_after && !c->streaming)
        {
          conn_close (w, c);
          return -1;
        }
    }
  if (pending != c->want_out)
    {
      struct epoll_event ev = { .events = EPOLLIN | (pending ? EPOLLOUT : 0),
                                .data.ptr = c };
      epoll_ctl (w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
      c->want_out = pending;
    }
  return 0;
}

static void
append_chunk (Conn *c, const char *data, size_t len)
{
  char hdr[32];
  int  h = snprintf (hdr, sizeof hdr, "%zx\r\n", len);
  out_append (c, hdr, (size_t) h);
  out_append (c, data, len);
  out_append (c, "\r\n", 2);
}

/* One content delta; the first OpenAI one also carries the role, as real
 * upstreams do. */
static void
append_delta (Conn *c, int first)
{
  char      ev[512];
  long long ts = (long long) now_ns ();
  int       n;
  if (c->kind == KIND_OPENAI)
    n = snprintf (ev, sizeof ev,
                  "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\","
                  "\"created\":1700000000,\"model\":\"bench\",\"choices\":[{\"index\":0,"
                  "\"delta\":{%s\"content\":\"@%lld;\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                  first ? "\"role\":\"assistant\"," : "", ts);
  else
    n = snprintf (ev, sizeof ev,
                  "%sevent: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                  "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"@%lld;\"}}\n\n",
                  first ? "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
                          "{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\","
                          "\"model\":\"bench\",\"content\":[],\"stop_reason\":null,"
                          "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"
                          "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                          "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
                        : "",
                  ts);
  append_chunk (c, ev, (size_t) n);
}

static void
append_stream_end (Conn *c)
{
  char ev[1024];
  int  n;
  if (c->kind == KIND_OPENAI)
    n = snprintf (ev, sizeof ev,
                  "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\","
                  "\"created\":1700000000,\"model\":\"bench\",\"choices\":[{\"index\":0,"
                  "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
                  "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\","
                  "\"created\":1700000000,\"model\":\"bench\",\"choices\":[],"
                  "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n"
                  "data: [DONE]\n\n",
                  c->chunks_total, c->chunks_total + 10);
  else
    n = snprintf (ev, sizeof ev,
                  "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                  "{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                  "\"usage\":{\"output_tokens\":%d}}\n\n"
                  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                  c->chunks_total);
  append_chunk (c, ev, (size_t) n);
  out_append (c, "0\r\n\r\n", 5);
}

static void
stream_start (Worker *w, Conn *c)
{
  c->streaming = 1;
  c->sprev = NULL;
  c->snext = w->streams;
  if (w->streams)
    w->streams->sprev = c;
  w->streams = c;
}

static void
stream_stop (Worker *w, Conn *c)
{
  if (c->sprev)
    c->sprev->snext = c->snext;
  else
    w->streams = c->snext;
  if (c->snext)
    c->snext->sprev = c->sprev;
  c->streaming = 0;
}

/* Case-insensitive header lookup inside [hdr, end); returns the value start. */
static const char *
find_header (const char *hdr, const char *end, const char *name, size_t *vlen)
{
  size_t      nl = strlen (name);
  const char *p = hdr;
  while (p < end)
    {
      const char *eol = memchr (p, '\n', (size_t) (end - p));
      if (!eol)
        eol = end;
      if ((size_t) (eol - p) > nl && p[nl] == ':' && strncasecmp (p, name, nl) == 0)
        {
          const char *v = p + nl + 1;
          while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
          const char *ve = eol;
          while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
            ve--;
          *vlen = (size_t) (ve - v);
          return v;
        }
      p = eol + 1;
    }
  return NULL;
}

static const char *
json_value (const char *body, size_t len, const char *key)
{
  const char *end = body + len;
  size_t      kl = strlen (key);
  const char *p = body;
  while ((p = memmem (p, (size_t) (end - p), key, kl)))
    {
      const char *q = p + kl;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
        q++;
      if (q < end && *q == ':')
        {
          q++;
          while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
          return q < end ? q : NULL;
        }
      p += kl;
    }
  return NULL;
}

static void
model_knobs (const char *body, size_t len, int *chunks, long *delay_us)
{
  const char *v = json_value (body, len, "\"model\"");
  if (!v || *v != '"')
    return;
  const char *end = memchr (v + 1, '"', (size_t) (body + len - v - 1));
  if (!end)
    return;
  for (const char *p = v + 1; p + 2 < end; p++)
    {
      if (p[0] != '-' || p[2] < '0' || p[2] > '9')
        continue;
      if (p[1] == 'c')
        *chunks = atoi (p + 2);
      else if (p[1] == 'd')
        *delay_us = atol (p + 2);
    }
}

static void
query_knobs (const char *q, const char *qend, int *chunks, long *delay_us)
{
  for (const char *p = q; p < qend; p++)
    {
      if ((p == q || p[-1] == '&' || p[-1] == '?') && strncmp (p, "chunks=", 7) == 0)
        *chunks = atoi (p + 7);
      else if ((p == q || p[-1] == '&' || p[-1] == '?') && strncmp (p, "delay_us=", 9) == 0)
        *delay_us = atol (p + 9);
    }
}

/* Decodes a chunked request body in place-free fashion into *dec.
 * Returns bytes consumed from the start of the body, 0 if incomplete,
 * -1 if malformed. */
static long
dechunk (const char *b, size_t len, char **dec, size_t *dec_len, size_t *dec_cap)
{
  size_t i = 0;
  *dec_len = 0;
  for (;;)
    {
      const char *eol = memmem (b + i, len - i, "\r\n", 2);
      if (!eol)
        return 0;
      char         *endp;
      unsigned long sz = strtoul (b + i, &endp, 16);
      if (endp == b + i)
        return -1;
      i = (size_t) (eol - b) + 2;
      if (sz == 0)
        {
          /* Trailers are not supported: expect the final CRLF. */
          if (len - i < 2)
            return 0;
          return (long) (i + 2);
        }
      if (len - i < sz + 2)
        return 0;
      buf_reserve (dec, dec_cap, *dec_len + sz);
      memcpy (*dec + *dec_len, b + i, sz);
      *dec_len += sz;
      i += sz + 2;
    }
}

/* Parses and answers as many complete requests as the input holds. Returns
 * -1 if the connection was closed. */
static int
conn_process (Worker *w, Conn *c)
{
  size_t off = 0;
  while (!c->streaming && off < c->in_len)
    {
      char  *req = c->in + off;
      size_t avail = c->in_len - off;
      char  *hend = memmem (req, avail, "\r\n\r\n", 4);
      if (!hend)
        {
          if (avail > 65536)
            goto bad;
          break;
        }
      size_t      hlen = (size_t) (hend - req) + 4;
      const char *sp1 = memchr (req, ' ', hlen);
      if (!sp1)
        goto bad;
      const char *target = sp1 + 1;
      const char *sp2 = memchr (target, ' ', (size_t) (hend - target));
      if (!sp2)
        goto bad;
      const char *hdrs = memchr (req, '\n', hlen) + 1;
      size_t      vlen;
      const char *v;
      long        clen = 0;
      int         chunked = 0;
      if ((v = find_header (hdrs, hend + 2, "content-length", &vlen)))
        clen = atol (v);
      if ((v = find_header (hdrs, hend + 2, "transfer-encoding", &vlen)) && vlen >= 7 && strncasecmp (v + vlen - 7, "chunked", 7) == 0)
        chunked = 1;

      const char            *body = req + hlen;
      size_t                 body_len;
      size_t                 total;
      static __thread char  *dec;
      static __thread size_t dec_cap;
      if (chunked)
        {
          long used = dechunk (body, avail - hlen, &dec, &body_len, &dec_cap);
          if (used < 0)
            goto bad;
          if (used == 0)
            goto incomplete;
          body = dec;
          total = hlen + (size_t) used;
        }
      else
        {
          if (clen < 0 || clen > 64 * 1024 * 1024)
            goto bad;
          if (avail - hlen < (size_t) clen)
            goto incomplete;
          body_len = (size_t) clen;
          total = hlen + body_len;
        }

      if ((v = find_header (hdrs, hend + 2, "connection", &vlen)) && vlen == 5 && strncasecmp (v, "close", 5) == 0)
        c->close_after = 1;
      if (memmem (req, (size_t) (sp2 - req) + 10, "HTTP/1.0", 8) && !((v = find_header (hdrs, hend + 2, "connection", &vlen)) && vlen == 10 && strncasecmp (v, "keep-alive", 10) == 0))
        c->close_after = 1;

      const char *qs = memchr (target, '?', (size_t) (sp2 - target));
      const char *pend = qs ? qs : sp2;
      size_t      plen = (size_t) (pend - target);
      int         is_post = sp1 - req == 4 && memcmp (req, "POST", 4) == 0;
      int         kind = -1;
      if (is_post && plen >= 17 && memcmp (pend - 17, "/chat/completions", 17) == 0)
        kind = KIND_OPENAI;
      else if (is_post && plen >= 12 && memcmp (pend - 12, "/v1/messages", 12) == 0)
        kind = KIND_ANTHROPIC;

      if (kind < 0)
        {
          if (plen == 7 && memcmp (target, "/health", 7) == 0)
            out_append (c, HEALTH, sizeof HEALTH - 1);
          else
            out_append (c, NOT_FOUND, sizeof NOT_FOUND - 1);
          off += total;
          continue;
        }

      int stream = 0;
      v = json_value (body, body_len, "\"stream\"");
      if (v && body + body_len - v >= 4 && memcmp (v, "true", 4) == 0)
        stream = 1;
      if (!stream)
        {
          if (kind == KIND_OPENAI)
            out_append (c, openai_resp, openai_resp_len);
          else
            out_append (c, anthropic_resp, anthropic_resp_len);
          off += total;
          continue;
        }

      int  chunks = -1;
      long delay = -1;
      if ((v = find_header (hdrs, hend + 2, "x-mock-chunks", &vlen)))
        chunks = atoi (v);
      if ((v = find_header (hdrs, hend + 2, "x-mock-delay-us", &vlen)))
        delay = atol (v);
      {
        int  qc = -1;
        long qd = -1;
        if (qs)
          query_knobs (qs + 1, sp2, &qc, &qd);
        int  mc = -1;
        long md = -1;
        model_knobs (body, body_len, &mc, &md);
        if (chunks < 0)
          chunks = qc >= 0 ? qc : mc >= 0 ? mc
                                          : opt_chunks;
        if (delay < 0)
          delay = qd >= 0 ? qd : md >= 0 ? md
                                         : opt_delay_us;
      }
      if (chunks < 1)
        chunks = 1;
      if (chunks > MAX_CHUNKS)
        chunks = MAX_CHUNKS;
      off += total;

      c->kind = kind;
      c->chunks_total = chunks;
      out_append (c, STREAM_HEADERS, sizeof STREAM_HEADERS - 1);
      append_delta (c, 1);
      if (delay <= 0)
        {
          /* No pacing asked: the whole stream in one write. */
          for (int i = 1; i < chunks; i++)
            append_delta (c, 0);
          append_stream_end (c);
          continue;
        }
      c->chunk_next = 1;
      c->delay_ns = (int64_t) delay * 1000;
      c->next_due = now_ns () + c->delay_ns;
      stream_start (w, c);
      continue;

    incomplete:
      if ((v = find_header (hdrs, hend + 2, "expect", &vlen)) && vlen == 12 && strncasecmp (v, "100-continue", 12) == 0 && avail - hlen == 0)
        out_append (c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
      break;
    }
  if (off > 0)
    {
      memmove (c->in, c->in + off, c->in_len - off);
      c->in_len -= off;
    }
  return conn_flush (w, c);

bad:
  c->in_len = 0;
  c->close_after = 1;
  out_append (c, BAD_REQUEST, sizeof BAD_REQUEST - 1);
  return conn_flush (w, c);
}

static void
streams_tick (Worker *w, int64_t now)
{
  Conn *next;
  for (Conn *c = w->streams; c; c = next)
    {
      next = c->snext;
      if (c->next_due > now)
        continue;
      if (c->chunk_next < c->chunks_total)
        {
          append_delta (c, 0);
          c->chunk_next++;
        }
      if (c->chunk_next >= c->chunks_total)
        {
          append_stream_end (c);
          stream_stop (w, c);
          if (conn_flush (w, c) < 0)
            continue;
          /* Requests pipelined behind the stream. */
          if (c->in_len > 0)
            conn_process (w, c);
          continue;
        }
      c->next_due += c->delay_ns;
      conn_flush (w, c);
    }
}

static int
streams_timeout_ms (Worker *w, int64_t now, struct timespec *ts)
{
  int64_t min = INT64_MAX;
  for (Conn *c = w->streams; c; c = c->snext)
    if (c->next_due < min)
      min = c->next_due;
  if (min == INT64_MAX)
    return 0;
  int64_t d = min - now;
  if (d < 0)
    d = 0;
  ts->tv_sec = d / 1000000000;
  ts->tv_nsec = d % 1000000000;
  return 1;
}

static void *
worker_run (void *data)
{
  Worker            *w = data;
  struct epoll_event evs[MAX_EVENTS];
  while (!quit)
    {
      struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000000 };
      int64_t         now = now_ns ();
      streams_timeout_ms (w, now, &ts);
      int n = epoll_pwait2 (w->epfd, evs, MAX_EVENTS, &ts, NULL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          perror ("epoll_pwait2");
          break;
        }
      for (int i = 0; i < n; i++)
        {
          if (evs[i].data.ptr == NULL)
            {
              for (int k = 0; k < 64; k++)
                {
                  int fd = accept4 (w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                  if (fd < 0)
                    break;
                  int one = 1;
                  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                  Conn *c = calloc (1, sizeof *c);
                  c->fd = fd;
                  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                  epoll_ctl (w->epfd, EPOLL_CTL_ADD, fd, &ev);
                }
              continue;
            }
          Conn *c = evs[i].data.ptr;
          if (evs[i].events & EPOLLOUT)
            if (conn_flush (w, c) < 0)
              continue;
          if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            {
              buf_reserve (&c->in, &c->in_cap, c->in_len + READ_SIZE);
              ssize_t r = recv (c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
              if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                {
                  conn_close (w, c);
                  continue;
                }
              if (r > 0)
                {
                  c->in_len += (size_t) r;
                  if (!c->streaming)
                    conn_process (w, c);
                }
            }
        }
      if (w->streams)
        streams_tick (w, now_ns ());
    }
  return NULL;
}

static int
make_listener (int port)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
  /* Loopback only: the benchmark never listens anywhere else. */
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, 4096) < 0)
    {
      perror ("bind/listen");
      return -1;
    }
  return fd;
}

static void
on_signal (int sig)
{
  quit = 1;
}

static void
usage (void)
{
  fprintf (stderr,
           "usage: mock-upstream [--port P] [--port-file F] [--threads T]\n"
           "                     [--chunks N] [--delay-us D]\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  int         port = 0, threads = 1;
  const char *port_file = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (i + 1 >= argc)
        usage ();
      if (strcmp (argv[i], "--port") == 0)
        port = atoi (argv[++i]);
      else if (strcmp (argv[i], "--port-file") == 0)
        port_file = argv[++i];
      else if (strcmp (argv[i], "--threads") == 0)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--chunks") == 0)
        opt_chunks = atoi (argv[++i]);
      else if (strcmp (argv[i], "--delay-us") == 0)
        opt_delay_us = atol (argv[++i]);
      else
        usage ();
    }
  if (threads < 1 || threads > 64)
    usage ();

  openai_resp_len = (size_t) snprintf (openai_resp, sizeof openai_resp,
                                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       "Content-Length: %zu\r\n\r\n%s",
                                       sizeof OPENAI_BODY - 1, OPENAI_BODY);
  anthropic_resp_len = (size_t) snprintf (anthropic_resp, sizeof anthropic_resp,
                                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                          "Content-Length: %zu\r\n\r\n%s",
                                          sizeof ANTHROPIC_BODY - 1, ANTHROPIC_BODY);

  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  Worker *ws = calloc ((size_t) threads, sizeof *ws);
  for (int t = 0; t < threads; t++)
    {
      ws[t].lfd = make_listener (port);
      if (ws[t].lfd < 0)
        return 1;
      if (port == 0)
        {
          struct sockaddr_in bound;
          socklen_t          sl = sizeof bound;
          getsockname (ws[t].lfd, (struct sockaddr *) &bound, &sl);
          port = ntohs (bound.sin_port);
        }
      ws[t].epfd = epoll_create1 (EPOLL_CLOEXEC);
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
      epoll_ctl (ws[t].epfd, EPOLL_CTL_ADD, ws[t].lfd, &ev);
    }

  if (port_file)
    {
      char tmp[4096];
      snprintf (tmp, sizeof tmp, "%s.tmp", port_file);
      FILE *f = fopen (tmp, "w");
      if (!f || fprintf (f, "%d\n", port) < 0 || fclose (f) != 0 || rename (tmp, port_file) != 0)
        {
          perror (port_file);
          return 1;
        }
    }
  else
    {
      printf ("%d\n", port);
      fflush (stdout);
    }

  pthread_t *tids = calloc ((size_t) threads, sizeof *tids);
  for (int t = 1; t < threads; t++)
    pthread_create (&tids[t], NULL, worker_run, &ws[t]);
  worker_run (&ws[0]);
  return 0;
}
