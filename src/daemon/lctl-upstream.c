/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#define G_LOG_DOMAIN "litellmctl-upstream"

#include "config.h"

#include "lctl-debug.h"
#include "lctl-error.h"
#include "lctl-upstream.h"

#define READ_SIZE (16 * 1024)

/* Before it picks a connection, a SoupSession checks every idle connection
 * of its pool with recv(MSG_PEEK), several times per request, and it has no
 * limit on idle connections but max-conns itself: after a burst of 64
 * concurrent requests, each later request paid ~200 system calls for it.
 * So requests go to a set of small sessions instead of one big one: the
 * first session that has fewer than SHARD_CALLS calls in flight takes the
 * next. Sequential traffic stays on the first, whose pool holds a handful
 * of connections; a burst spreads over more sessions, whose connections
 * nobody peeks at once it is over, and which close after idle-timeout.
 * Together they allow MAX_SHARDS * SHARD_CALLS concurrent calls (streams).
 * That is for plain-HTTP upstreams (local servers, where those system calls
 * are most of the cost). HTTPS upstreams keep one big session: a TLS
 * handshake costs far more than the peeks, and an HTTP/2 upstream carries
 * every stream over one connection of it. */
#define SHARD_CALLS 2
#define MAX_SHARDS  512
/* Slack over SHARD_CALLS: a cancelled call's connection may not be back
 * in the pool yet, and one session may talk to several hosts. */
#define SHARD_MAX_CONNS_PER_HOST (SHARD_CALLS * 2)
#define SHARD_MAX_CONNS          (SHARD_CALLS * 4)
#define IDLE_TIMEOUT_S           30
/* The HTTPS session: enough for hundreds of concurrent streams, bounded. */
#define TLS_MAX_CONNS          1024
#define TLS_MAX_CONNS_PER_HOST 512

typedef struct
{
  SoupSession *session;
  unsigned     in_flight;
} Shard;

struct _LctlUpstream
{
  GObject parent_instance;

  GArray         *shards; /* of Shard, grown on demand; plain HTTP */
  SoupSession    *tls_session;
  GProxyResolver *proxy_resolver;
  GTlsDatabase   *tls_database;
  gboolean        verify_tls;
};

G_DEFINE_FINAL_TYPE (LctlUpstream, lctl_upstream, G_TYPE_OBJECT)

typedef enum
{
  TIMEOUT_NONE,
  TIMEOUT_FIRST_BYTE,
  TIMEOUT_IDLE,
  TIMEOUT_TOTAL,
} TimeoutKind;

struct _LctlUpstreamCall
{
  LctlUpstream         *upstream;
  unsigned              shard;
  gboolean              counted; /* in its shard's in_flight */
  SoupMessage          *msg;
  GInputStream         *stream;
  GCancellable         *cancellable; /* ours, cancelled by the caller's too */
  GCancellable         *caller_cancellable;
  gulong                caller_cancelled_id;
  LctlUpstreamTimeouts  timeouts;
  LctlUpstreamCallbacks callbacks;
  gpointer              user_data;

  GSource    *first_byte_source;
  GSource    *idle_source;
  GSource    *total_source;
  TimeoutKind timed_out;
  gboolean    got_body;
  gboolean    finished;
};

static SoupSession *
session_new (LctlUpstream *self,
             unsigned      max_conns,
             unsigned      max_conns_per_host)
{
  SoupSession *session = soup_session_new_with_options ("max-conns", max_conns,
                                                        "max-conns-per-host", max_conns_per_host,
                                                        "idle-timeout", IDLE_TIMEOUT_S,
                                                        "timeout", 0,
                                                        "proxy-resolver", self->proxy_resolver,
                                                        NULL);

  if (self->tls_database != NULL)
    soup_session_set_tls_database (session, self->tls_database);
  return session;
}

/* The first shard with room, a new one, or (all full) the least busy. */
static unsigned
shard_pick (LctlUpstream *self)
{
  unsigned best = 0;

  for (unsigned i = 0; i < self->shards->len; i++)
    {
      Shard *shard = &g_array_index (self->shards, Shard, i);

      if (shard->in_flight < SHARD_CALLS)
        return i;
      if (shard->in_flight < g_array_index (self->shards, Shard, best).in_flight)
        best = i;
    }
  if (self->shards->len < MAX_SHARDS)
    {
      Shard shard = { .session = session_new (self, SHARD_MAX_CONNS, SHARD_MAX_CONNS_PER_HOST) };

      g_array_append_val (self->shards, shard);
      return self->shards->len - 1;
    }
  return best;
}

static void
call_uncount (LctlUpstreamCall *call)
{
  if (!call->counted)
    return;
  call->counted = FALSE;
  /* The call holds the upstream, so its shards are there unless the
   * upstream was disposed explicitly. */
  if (call->upstream->shards != NULL)
    g_array_index (call->upstream->shards, Shard, call->shard).in_flight--;
}

static LctlUpstreamCall *
call_ref (LctlUpstreamCall *call)
{
  return g_rc_box_acquire (call);
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
call_clear (LctlUpstreamCall *call)
{
  call_uncount (call);
  clear_source (&call->first_byte_source);
  clear_source (&call->idle_source);
  clear_source (&call->total_source);
  if (call->caller_cancellable != NULL)
    g_cancellable_disconnect (call->caller_cancellable, call->caller_cancelled_id);
  g_clear_object (&call->caller_cancellable);
  g_clear_object (&call->cancellable);
  g_clear_object (&call->stream);
  g_clear_object (&call->msg);
  g_clear_object (&call->upstream);
}

static void
call_unref (LctlUpstreamCall *call)
{
  g_rc_box_release_full (call, (GDestroyNotify) call_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlUpstreamCall, call_unref)

static void
call_finish (LctlUpstreamCall *call,
             const GError     *error)
{
  if (call->finished)
    return;
  call->finished = TRUE;
  call_uncount (call);
  clear_source (&call->first_byte_source);
  clear_source (&call->idle_source);
  clear_source (&call->total_source);
  if (call->stream != NULL)
    g_input_stream_close_async (call->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  call->callbacks.done (call, error, call->user_data);
  call_unref (call); /* the reference lctl_upstream_send() returned to us */
}

static void
call_fail (LctlUpstreamCall *call,
           GError           *error)
{
  g_autoptr (GError) owned = error;

  if (call->timed_out != TIMEOUT_NONE)
    {
      static const char *const what[] = { "", "before the first byte", "between two reads", "in total" };
      double                   seconds = call->timed_out == TIMEOUT_FIRST_BYTE ? call->timeouts.first_byte
                                         : call->timed_out == TIMEOUT_IDLE     ? call->timeouts.idle
                                                                               : call->timeouts.total;
      g_autoptr (GError) timeout = g_error_new (LCTL_ERROR, LCTL_ERROR_TIMEOUT,
                                                "Upstream timed out: nothing %s within %g s",
                                                what[call->timed_out], seconds);
      call_finish (call, timeout);
      return;
    }
  call_finish (call, owned);
}

static gboolean
timeout_cb (gpointer user_data)
{
  GSource          *source = g_main_current_source ();
  LctlUpstreamCall *call = user_data;

  if (source == call->first_byte_source)
    call->timed_out = TIMEOUT_FIRST_BYTE;
  else if (source == call->idle_source)
    call->timed_out = TIMEOUT_IDLE;
  else
    call->timed_out = TIMEOUT_TOTAL;
  g_cancellable_cancel (call->cancellable);
  return G_SOURCE_CONTINUE; /* destroyed by call_finish() */
}

static GSource *
add_timeout (LctlUpstreamCall *call,
             double            seconds)
{
  GSource *source;

  if (seconds <= 0)
    return NULL;
  source = g_timeout_source_new ((unsigned) (seconds * 1000));
  g_source_set_callback (source, timeout_cb, call, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static void read_next (LctlUpstreamCall *call);

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (LctlUpstreamCall) call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (call->finished)
    return;
  if (bytes == NULL)
    {
      call_fail (call, g_steal_pointer (&error));
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      call_finish (call, NULL);
      return;
    }

  if (!call->got_body)
    {
      call->got_body = TRUE;
      clear_source (&call->first_byte_source);
    }
  clear_source (&call->idle_source);
  call->idle_source = add_timeout (call, call->timeouts.idle);

  call->callbacks.chunk (call, bytes, call->user_data);
  if (!call->finished)
    read_next (call);
}

static void
read_next (LctlUpstreamCall *call)
{
  g_input_stream_read_bytes_async (call->stream, READ_SIZE, G_PRIORITY_DEFAULT, call->cancellable,
                                   read_cb, call_ref (call));
}

static void
send_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (LctlUpstreamCall) call = user_data;
  g_autoptr (GError) error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);

  if (call->finished)
    {
      g_clear_object (&stream);
      return;
    }
  if (stream == NULL)
    {
      call_fail (call, g_steal_pointer (&error));
      return;
    }
  call->stream = stream;

  call->callbacks.headers (call, soup_message_get_status (call->msg),
                           soup_message_get_response_headers (call->msg), call->user_data);
  if (!call->finished)
    read_next (call);
}

static void
caller_cancelled_cb (GCancellable *cancellable,
                     gpointer      user_data)
{
  LctlUpstreamCall *call = user_data;

  g_cancellable_cancel (call->cancellable);
}

static gboolean
accept_any_certificate_cb (SoupMessage         *msg,
                           GTlsCertificate     *certificate,
                           GTlsCertificateFlags errors,
                           gpointer             user_data)
{
  return TRUE;
}

/**
 * lctl_upstream_send:
 * @self: The upstream session.
 * @msg: The request, with its body and headers set.
 * @timeouts: (nullable): Timeouts.
 * @cancellable: (nullable): Cancels the exchange (the client went away).
 * @callbacks: Where the response goes.
 * @user_data: For @callbacks.
 *
 * Sends @msg and streams its response through @callbacks.
 *
 * Returns: (transfer none): The call, valid until @callbacks->done ran or
 *   lctl_upstream_call_cancel() was called.
 */
LctlUpstreamCall *
lctl_upstream_send (LctlUpstream                *self,
                    SoupMessage                 *msg,
                    const LctlUpstreamTimeouts  *timeouts,
                    GCancellable                *cancellable,
                    const LctlUpstreamCallbacks *callbacks,
                    gpointer                     user_data)
{
  LctlUpstreamCall *call;
  SoupSession      *session = self->tls_session;

  g_return_val_if_fail (LCTL_IS_UPSTREAM (self), NULL);
  g_return_val_if_fail (SOUP_IS_MESSAGE (msg), NULL);

  call = g_rc_box_new0 (LctlUpstreamCall);
  call->upstream = g_object_ref (self);
  if (g_strcmp0 (g_uri_get_scheme (soup_message_get_uri (msg)), "https") != 0)
    {
      Shard *shard;

      call->shard = shard_pick (self);
      shard = &g_array_index (self->shards, Shard, call->shard);
      shard->in_flight++;
      call->counted = TRUE;
      session = shard->session;
    }
  call->msg = g_object_ref (msg);
  call->cancellable = g_cancellable_new ();
  call->callbacks = *callbacks;
  call->user_data = user_data;
  if (timeouts != NULL)
    call->timeouts = *timeouts;
  if (cancellable != NULL)
    {
      call->caller_cancellable = g_object_ref (cancellable);
      call->caller_cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb), call, NULL);
    }

  /* Ours unless the provider presents itself as its own client (Kimi
   * Code's KimiCLI): a session "user-agent" would replace the message's
   * header, so it is set here instead. */
  if (soup_message_headers_get_one (soup_message_get_request_headers (msg), "User-Agent") == NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "User-Agent", "litellmctl/" PACKAGE_VERSION);

  /* Without this libsoup opens a new connection for every POST. */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  if (!self->verify_tls)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate_cb), NULL);

  call->first_byte_source = add_timeout (call, call->timeouts.first_byte);
  call->total_source = add_timeout (call, call->timeouts.total);

  soup_session_send_async (session, msg, G_PRIORITY_DEFAULT, call->cancellable, send_cb, call_ref (call));
  return call;
}

/**
 * lctl_upstream_call_cancel:
 *
 * Aborts the exchange. No callback runs after this returns.
 */
void
lctl_upstream_call_cancel (LctlUpstreamCall *call)
{
  if (call == NULL || call->finished)
    return;
  call->finished = TRUE;
  call_uncount (call);
  clear_source (&call->first_byte_source);
  clear_source (&call->idle_source);
  clear_source (&call->total_source);
  g_cancellable_cancel (call->cancellable);
  call_unref (call);
}

SoupMessage *
lctl_upstream_call_get_message (LctlUpstreamCall *call)
{
  return call->msg;
}

/* Honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY, but never for loopback:
 * local upstreams (and test mocks) must not go through a corporate proxy. */
static GProxyResolver *
proxy_resolver_new (void)
{
  const char *https_proxy = g_getenv ("HTTPS_PROXY") ? g_getenv ("HTTPS_PROXY") : g_getenv ("https_proxy");
  const char *http_proxy = g_getenv ("HTTP_PROXY") ? g_getenv ("HTTP_PROXY") : g_getenv ("http_proxy");
  const char *no_proxy = g_getenv ("NO_PROXY") ? g_getenv ("NO_PROXY") : g_getenv ("no_proxy");
  g_autoptr (GStrvBuilder) ignore = g_strv_builder_new ();
  g_auto (GStrv) ignore_hosts = NULL;
  GProxyResolver *resolver;

  g_strv_builder_add_many (ignore, "localhost", "127.0.0.0/8", "::1", NULL);
  if (no_proxy != NULL)
    {
      g_auto (GStrv) hosts = g_strsplit (no_proxy, ",", -1);

      for (char **h = hosts; *h != NULL; h++)
        {
          g_strstrip (*h);
          if (**h != '\0')
            g_strv_builder_add (ignore, *h);
        }
    }
  ignore_hosts = g_strv_builder_end (ignore);

  resolver = g_simple_proxy_resolver_new (NULL, ignore_hosts);
  if (https_proxy != NULL && *https_proxy != '\0')
    g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver), "https", https_proxy);
  if (http_proxy != NULL && *http_proxy != '\0')
    g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver), "http", http_proxy);
  return resolver;
}

/* @database NULL is the system's. A session that was never given one
 * verifies against the system's, loaded on the first TLS handshake: parsing
 * the CA bundle took ~25 ms of a ~45 ms cold start. Once a session has been
 * given a database, NULL would mean none, so going back to the system's
 * after a reload sets it explicitly. */
static void
set_tls_database (LctlUpstream *self,
                  GTlsDatabase *database)
{
  g_autoptr (GTlsDatabase) system_database = NULL;

  if (database == NULL && self->tls_database == NULL)
    return;
  g_set_object (&self->tls_database, database);
  if (database == NULL)
    database = system_database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  soup_session_set_tls_database (self->tls_session, database);
  /* Plain HTTP may still redirect to HTTPS. */
  for (unsigned i = 0; i < self->shards->len; i++)
    soup_session_set_tls_database (g_array_index (self->shards, Shard, i).session, database);
}

/**
 * lctl_upstream_configure:
 *
 * Applies `litellm_settings.ssl_verify`: %FALSE accepts any certificate, a
 * string is a CA bundle to verify against.
 */
void
lctl_upstream_configure (LctlUpstream *self,
                         LctlConfig   *config)
{
  g_autoptr (GTlsDatabase) database = NULL;
  JsonNode *ssl_verify;

  g_return_if_fail (LCTL_IS_UPSTREAM (self));

  self->verify_tls = TRUE;
  ssl_verify = config != NULL ? json_object_get_member (config->litellm_settings, "ssl_verify") : NULL;
  if (ssl_verify != NULL && JSON_NODE_HOLDS_VALUE (ssl_verify) && json_node_get_value_type (ssl_verify) == G_TYPE_BOOLEAN)
    self->verify_tls = json_node_get_boolean (ssl_verify);
  else if (ssl_verify != NULL && JSON_NODE_HOLDS_VALUE (ssl_verify) && json_node_get_value_type (ssl_verify) == G_TYPE_STRING)
    {
      g_autoptr (GError) error = NULL;

      database = g_tls_file_database_new (json_node_get_string (ssl_verify), &error);
      if (database == NULL)
        g_warning ("litellm_settings.ssl_verify: cannot load %s: %s", json_node_get_string (ssl_verify), error->message);
    }
  set_tls_database (self, database);
}

/**
 * lctl_upstream_get_session:
 *
 * Returns: (transfer none): The session HTTPS calls go through.
 */
SoupSession *
lctl_upstream_get_session (LctlUpstream *self)
{
  g_return_val_if_fail (LCTL_IS_UPSTREAM (self), NULL);

  return self->tls_session;
}

static void
shard_clear (Shard *shard)
{
  if (shard->session != NULL)
    soup_session_abort (shard->session);
  g_clear_object (&shard->session);
}

static void
lctl_upstream_dispose (GObject *object)
{
  LctlUpstream *self = LCTL_UPSTREAM (object);

  /* Calls hold the upstream: none is left once it is disposed. */
  g_clear_pointer (&self->shards, g_array_unref);
  if (self->tls_session != NULL)
    soup_session_abort (self->tls_session);
  g_clear_object (&self->tls_session);
  g_clear_object (&self->proxy_resolver);
  g_clear_object (&self->tls_database);

  G_OBJECT_CLASS (lctl_upstream_parent_class)->dispose (object);
}

static void
lctl_upstream_class_init (LctlUpstreamClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lctl_upstream_dispose;
}

static void
lctl_upstream_init (LctlUpstream *self)
{
  Shard first = { 0 };

  self->verify_tls = TRUE;
  self->proxy_resolver = proxy_resolver_new ();
  self->shards = g_array_new (FALSE, TRUE, sizeof (Shard));
  g_array_set_clear_func (self->shards, (GDestroyNotify) shard_clear);
  first.session = session_new (self, SHARD_MAX_CONNS, SHARD_MAX_CONNS_PER_HOST);
  self->tls_session = session_new (self, TLS_MAX_CONNS, TLS_MAX_CONNS_PER_HOST);
  g_array_append_val (self->shards, first);
}

LctlUpstream *
lctl_upstream_new (void)
{
  return g_object_new (LCTL_TYPE_UPSTREAM, NULL);
}
