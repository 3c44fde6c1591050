/* SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 *
 * The floor of a libsoup-based design, in two shapes.
 *
 *   soup-floor --port P [--n N] [--warmup W] [--no-idempotent] [--kind K]
 *     One SoupSession on a GMainLoop sending sequential POSTs to the mock,
 *     the way the proxy's upstream side does; prints latency percentiles.
 *     Without SOUP_MESSAGE_IDEMPOTENT libsoup will not reuse a pooled
 *     connection for a POST, and each request pays a new connection.
 *
 *   soup-floor --proxy --listen-port L --port P
 *     The least a libsoup proxy can be: a SoupServer whose handler forwards
 *     the request to the mock on one SoupSession and streams the answer back
 *     chunk by chunk (pause/unpause, as libsoup's simple-proxy example).
 *     No parsing, no routing: whatever litellmctl adds on top is its own cost.
 *     --threads N runs N such proxies, one per thread, each with its own
 *     main context, session and SO_REUSEPORT listener.
 */

#include <glib-unix.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

static int         opt_port;
static int         opt_listen_port;
static int         opt_n = 5000;
static int         opt_warmup = 200;
static gboolean    opt_idempotent = TRUE;
static gboolean    opt_proxy;
static int         opt_max_conns = 2048;
static int         opt_threads = 1;
static gboolean    opt_default_proxy_resolver;
static int         opt_backlog = 4096;
static gboolean    opt_buffered;
static const char *opt_kind = "openai";

static SoupSession *session;

/* Without the system proxy resolver (libproxy or GNOME's GIO module, asked
 * in a thread for every new connection) the floor measures libsoup alone;
 * --default-proxy-resolver keeps it. */
static SoupSession *
floor_session_new (void)
{
  SoupSession *s = soup_session_new_with_options ("max-conns", opt_max_conns,
                                                  "max-conns-per-host", opt_max_conns, NULL);
  if (!opt_default_proxy_resolver)
    soup_session_set_proxy_resolver (s, NULL);
  return s;
}
static GMainLoop *loop;

static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- client floor ----------------------------------------------------- */

static GBytes *request_body;
static char   *request_url;
static gint64 *lat;
static int     done_count, error_count;
static gint64  t_send;

static void send_next (void);

static void
on_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SoupMessage *msg = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), res, &error);
  gint64 t = now_ns ();
  if (!body || soup_message_get_status (msg) != SOUP_STATUS_OK)
    {
      error_count++;
      if (error)
        g_printerr ("soup-floor: %s\n", error->message);
    }
  else if (done_count >= opt_warmup)
    lat[done_count - opt_warmup] = t - t_send;
  g_object_unref (msg);
  done_count++;
  if (done_count >= opt_warmup + opt_n || error_count > 10)
    g_main_loop_quit (loop);
  else
    send_next ();
}

static void
send_next (void)
{
  SoupMessage *msg = soup_message_new ("POST", request_url);
  soup_message_set_request_body_from_bytes (msg, "application/json", request_body);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  soup_message_headers_append (h, "Authorization", "Bearer sk-bench");
  if (strcmp (opt_kind, "anthropic") == 0)
    soup_message_headers_append (h, "anthropic-version", "2023-06-01");
  if (opt_idempotent)
    soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  t_send = now_ns ();
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_read, msg);
}

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static double
pct_us (gint64 *v, int n, double p)
{
  if (n <= 0)
    return -1;
  int i = (int) (p / 100.0 * n);
  if (i >= n)
    i = n - 1;
  return (double) v[i] / 1000.0;
}

static int
run_client (void)
{
  gboolean    anthropic = strcmp (opt_kind, "anthropic") == 0;
  const char *body = "{\"model\":\"bench\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"Say hello.\"}]}";
  request_body = g_bytes_new_static (body, strlen (body));
  request_url = g_strdup_printf ("http://127.0.0.1:%d%s", opt_port,
                                 anthropic ? "/v1/messages" : "/v1/chat/completions");
  lat = g_new0 (gint64, opt_n);
  gint64 t0 = now_ns ();
  send_next ();
  g_main_loop_run (loop);
  double secs = (double) (now_ns () - t0) / 1e9;
  int    ok = done_count - error_count - opt_warmup;
  if (ok < 0)
    ok = 0;
  qsort (lat, (size_t) ok, sizeof *lat, cmp_i64);
  double sum = 0;
  for (int i = 0; i < ok; i++)
    sum += (double) lat[i];
  printf ("ok=%d errors=%d rps=%.0f lat_p50_us=%.1f lat_p90_us=%.1f lat_p99_us=%.1f "
          "lat_mean_us=%.1f lat_max_us=%.1f\n",
          ok, error_count, done_count / secs, pct_us (lat, ok, 50), pct_us (lat, ok, 90),
          pct_us (lat, ok, 99), ok ? sum / ok / 1000.0 : -1.0, ok ? (double) lat[ok - 1] / 1000.0 : -1.0);
  g_free (lat);
  g_free (request_url);
  g_bytes_unref (request_body);
  return ok == opt_n ? 0 : 1;
}

/* ---- proxy floor ------------------------------------------------------ */

typedef struct
{
  SoupServerMessage *smsg;
  SoupMessage       *umsg;
  GInputStream      *stream;
  GCancellable      *cancellable;
} Forward;

static void
forward_free (Forward *f)
{
  g_clear_object (&f->stream);
  g_clear_object (&f->umsg);
  g_clear_object (&f->cancellable);
  g_object_unref (f->smsg);
  g_free (f);
}

static gboolean
is_hop_header (const char *name)
{
  static const char *const hop[] = { "Connection", "Keep-Alive", "Transfer-Encoding",
                                     "Content-Length", "Host", "Upgrade", NULL };
  for (int i = 0; hop[i]; i++)
    if (g_ascii_strcasecmp (name, hop[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
copy_header (const char *name, const char *value, gpointer user_data)
{
  if (!is_hop_header (name))
    soup_message_headers_append (user_data, name, value);
}

static void
on_client_gone (SoupServerMessage *smsg, gpointer user_data)
{
  Forward *f = user_data;
  g_cancellable_cancel (f->cancellable);
}

static void
on_chunk (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Forward *f = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, &error);
  if (g_cancellable_is_cancelled (f->cancellable))
    {
      forward_free (f);
      return;
    }
  SoupMessageBody *body = soup_server_message_get_response_body (f->smsg);
  if (!bytes || g_bytes_get_size (bytes) == 0)
    {
      g_signal_handlers_disconnect_by_func (f->smsg, on_client_gone, f);
      soup_message_body_complete (body);
      soup_server_message_unpause (f->smsg);
      forward_free (f);
      return;
    }
  soup_message_body_append_bytes (body, bytes);
  soup_server_message_unpause (f->smsg);
  g_input_stream_read_bytes_async (f->stream, 16384, G_PRIORITY_DEFAULT, f->cancellable, on_chunk, f);
}

static void
on_sent (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Forward *f = user_data;
  g_autoptr (GError) error = NULL;
  f->stream = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  if (!f->stream)
    {
      if (!g_cancellable_is_cancelled (f->cancellable))
        {
          g_signal_handlers_disconnect_by_func (f->smsg, on_client_gone, f);
          soup_server_message_set_status (f->smsg, SOUP_STATUS_BAD_GATEWAY, NULL);
          soup_server_message_unpause (f->smsg);
        }
      forward_free (f);
      return;
    }
  SoupMessageHeaders *uh = soup_message_get_response_headers (f->umsg);
  SoupMessageHeaders *sh = soup_server_message_get_response_headers (f->smsg);
  soup_server_message_set_status (f->smsg, soup_message_get_status (f->umsg), NULL);
  soup_message_headers_foreach (uh, copy_header, sh);
  if (soup_message_headers_get_encoding (uh) == SOUP_ENCODING_CONTENT_LENGTH)
    soup_message_headers_set_content_length (sh, soup_message_headers_get_content_length (uh));
  else
    soup_message_headers_set_encoding (sh, SOUP_ENCODING_CHUNKED);
  g_input_stream_read_bytes_async (f->stream, 16384, G_PRIORITY_DEFAULT, f->cancellable, on_chunk, f);
}

/* --buffered: the whole upstream answer in one call, then one write; fewer
 * main-loop round trips, but nothing streams. */
static void
on_sent_and_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Forward *f = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), res, &error);
  if (g_cancellable_is_cancelled (f->cancellable))
    {
      forward_free (f);
      return;
    }
  g_signal_handlers_disconnect_by_func (f->smsg, on_client_gone, f);
  if (!body)
    soup_server_message_set_status (f->smsg, SOUP_STATUS_BAD_GATEWAY, NULL);
  else
    {
      SoupMessageHeaders *uh = soup_message_get_response_headers (f->umsg);
      SoupMessageHeaders *sh = soup_server_message_get_response_headers (f->smsg);
      soup_server_message_set_status (f->smsg, soup_message_get_status (f->umsg), NULL);
      soup_message_headers_foreach (uh, copy_header, sh);
      soup_message_body_append_bytes (soup_server_message_get_response_body (f->smsg), body);
    }
  soup_server_message_unpause (f->smsg);
  forward_free (f);
}

static void
on_request (SoupServer *server, SoupServerMessage *smsg, const char *path, GHashTable *query, gpointer user_data)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%d%s", opt_port, path);
  SoupSession     *upstream = user_data;
  Forward         *f = g_new0 (Forward, 1);
  f->smsg = g_object_ref (smsg);
  f->cancellable = g_cancellable_new ();
  f->umsg = soup_message_new (soup_server_message_get_method (smsg), url);
  soup_message_add_flags (f->umsg, SOUP_MESSAGE_IDEMPOTENT);
  soup_message_headers_foreach (soup_server_message_get_request_headers (smsg), copy_header,
                                soup_message_get_request_headers (f->umsg));
  SoupMessageBody *rb = soup_server_message_get_request_body (smsg);
  g_autoptr (GBytes) body = soup_message_body_flatten (rb);
  soup_message_set_request_body_from_bytes (f->umsg, NULL, body);
  g_signal_connect (smsg, "finished", G_CALLBACK (on_client_gone), f);
  soup_server_message_pause (smsg);
  if (opt_buffered)
    soup_session_send_and_read_async (upstream, f->umsg, G_PRIORITY_DEFAULT, f->cancellable,
                                      on_sent_and_read, f);
  else
    soup_session_send_async (upstream, f->umsg, G_PRIORITY_DEFAULT, f->cancellable, on_sent, f);
}

/* Listens on 127.0.0.1:--listen-port with SO_REUSEPORT (threads share the
 * port) and a real backlog: soup_server_listen_local() and GSocket default to
 * a backlog of 10, and a burst of clients beyond it loses SYNs and waits 1, 3,
 * 7… s for retransmission, which is a stall. Bound by hand because
 * g_socket_bind() clears SO_REUSEPORT on TCP sockets. */
static void
floor_server_listen (SoupServer *server)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, &error);
  if (!sock)
    g_error ("soup-floor: %s", error->message);
  int                fd = g_socket_get_fd (sock);
  int                one = 1;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((guint16) opt_listen_port) };
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    g_error ("soup-floor: bind: %s", g_strerror (errno));
  g_socket_set_listen_backlog (sock, opt_backlog);
  if (!g_socket_listen (sock, &error) || !soup_server_listen_socket (server, sock, 0, &error))
    g_error ("soup-floor: %s", error->message);
}

/* One proxy per thread: its own main context, session and listener, so the
 * kernel spreads connections and threads share nothing. */
static gpointer
proxy_thread (gpointer data)
{
  GMainContext *ctx = data;
  g_main_context_push_thread_default (ctx);
  g_autoptr (SoupSession) thread_session = floor_session_new ();
  g_autoptr (SoupServer) server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (server, NULL, on_request, thread_session, NULL);
  floor_server_listen (server);
  g_autoptr (GMainLoop) thread_loop = g_main_loop_new (ctx, FALSE);
  g_main_loop_run (thread_loop);
  return NULL;
}

static int
run_proxy (void)
{
  if (opt_threads > 1)
    {
      for (int i = 0; i < opt_threads; i++)
        g_thread_new ("proxy", proxy_thread, g_main_context_new ());
      g_main_loop_run (loop);
      return 0;
    }
  g_autoptr (SoupServer) server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (server, NULL, on_request, session, NULL);
  floor_server_listen (server);
  g_main_loop_run (loop);
  return 0;
}

static gboolean
on_term (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--no-idempotent") == 0)
        opt_idempotent = FALSE;
      else if (strcmp (a, "--proxy") == 0)
        opt_proxy = TRUE;
      else if (i + 1 < argc && strcmp (a, "--port") == 0)
        opt_port = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (a, "--listen-port") == 0)
        opt_listen_port = atoi (argv[++i]);
      else if (strcmp (a, "--buffered") == 0)
        opt_buffered = TRUE;
      else if (strcmp (a, "--default-proxy-resolver") == 0)
        opt_default_proxy_resolver = TRUE;
      else if (i + 1 < argc && strcmp (a, "--backlog") == 0)
        opt_backlog = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (a, "--threads") == 0)
        opt_threads = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (a, "--max-conns") == 0)
        opt_max_conns = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (a, "--n") == 0)
        opt_n = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (a, "--warmup") == 0)
        opt_warmup = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (a, "--kind") == 0)
        opt_kind = argv[++i];
      else
        {
          g_printerr ("usage: soup-floor --port P [--n N] [--warmup W] [--no-idempotent] [--kind openai|anthropic]\n"
                      "       soup-floor --proxy --listen-port L --port P [--threads N] [--max-conns N] [--backlog N]\n"
                      "       --default-proxy-resolver: keep the system proxy resolver\n"
                      "       --buffered: read each upstream answer whole, then answer (no streaming)\n");
          return 2;
        }
    }
  if (opt_port <= 0 || opt_n <= 0 || (opt_proxy && opt_listen_port <= 0))
    return 2;
  loop = g_main_loop_new (NULL, FALSE);
  /* Pool sized past the 1,000-stream test so that the floor measures libsoup,
   * not a queue in front of a small pool (--max-conns to see that queue). */
  session = floor_session_new ();
  g_unix_signal_add (SIGTERM, on_term, NULL);
  g_unix_signal_add (SIGINT, on_term, NULL);
  int ret = opt_proxy ? run_proxy () : run_client ();
  g_object_unref (session);
  g_main_loop_unref (loop);
  return ret;
}
