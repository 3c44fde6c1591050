/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#define G_LOG_DOMAIN "litellmctl-proxy"

#include "config.h"

#include <math.h>
#include <string.h>

#include "lctl-count-tokens.h"
#include "lctl-debug.h"
#include "lctl-dialect.h"
#include "lctl-error.h"
#include "lctl-provider.h"
#include "lctl-proxy.h"
#include "lctl-sse.h"
#include "lctl-tool-names.h"

/* Keep-alive while nothing has reached the client: Anthropic's own API
 * pings, and idle connections behind NATs die. */
#define DEFAULT_PING_INTERVAL_MS    10000
#define DEFAULT_STREAM_IDLE_TIMEOUT 120.0
/* Error bodies are short; a bigger one is cut, not buffered forever. */
#define MAX_ERROR_BODY (64 * 1024)

struct _LctlProxy
{
  GObject parent_instance;

  LctlRouter      *router;
  LctlUpstream    *upstream;
  LctlTokenSource *tokens;
  GCancellable    *cancellable; /* the daemon's; cancelled at shutdown */
  unsigned         ping_interval_ms;
  guint64          next_request_id;
};

enum
{
  SIGNAL_REQUEST_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (LctlProxy, lctl_proxy, G_TYPE_OBJECT)

typedef enum
{
  BODY_NONE,
  BODY_ERROR,  /* collecting an upstream error body */
  BODY_JSON,   /* collecting a non-streaming answer */
  BODY_STREAM, /* decoding SSE as it arrives */
} BodyMode;

/* One client request, from its body to its last byte. */
typedef struct
{
  LctlProxy         *proxy;
  SoupServerMessage *msg;
  LctlEndpoint       endpoint;
  LctlDialect        client_dialect;
  LctlConfig        *config;
  char              *id;
  gint64             started_us;
  GCancellable      *cancellable; /* cancelled with the daemon's, too */
  gulong             daemon_cancelled_id;
  gulong             disconnected_id;
  gboolean           client_gone;
  gboolean           finished;

  GBytes        *body;
  LctlIrRequest *request;
  gboolean       stream;
  LctlRoutePlan *plan;
  LctlIrError   *last_error;

  /* The current attempt. */
  LctlRouteAttempt    attempt;
  gboolean            attempt_open;
  const LctlProvider *provider;
  LctlToken          *token;
  gboolean            token_retried;
  LctlToolNames      *tool_names;
  LctlUpstreamCall   *call;
  gint64              attempt_started_us;
  gint64              first_upstream_send_us;
  gint64              upstream_done_us;
  unsigned            upstream_status;
  char               *retry_after;
  BodyMode            body_mode;
  GByteArray         *upstream_body;
  LctlStreamDecoder  *decoder;
  /* Same dialect on both sides: the upstream's events go to the client as
   * they came (re-framed, not re-encoded), and after the first content
   * nothing but the end and the usage is looked at. */
  gboolean        raw;
  LctlSseParser  *raw_sse;
  GString        *raw_pending;
  gboolean        raw_finished; /* the stop reason came */
  gboolean        raw_closed;   /* so did the closing event (or an error) */
  LctlIrResponse *assembled;
  unsigned        wait_source_id;

  /* Towards the client. */
  LctlStreamEncoder *encoder;
  GPtrArray         *pending_events;
  gboolean           committed;
  gboolean           headers_sent;
  gboolean           wrote_since_ping;
  unsigned           ping_source_id;
  unsigned           status;
  double             ttft_ms;
  LctlIrUsage        usage;
} LctlExchange;

static void next_attempt (LctlExchange *ex);
static void start_attempt (LctlExchange *ex);

static LctlExchange *
exchange_ref (LctlExchange *ex)
{
  return g_rc_box_acquire (ex);
}

static void
exchange_clear (LctlExchange *ex)
{
  g_assert (ex->call == NULL);
  g_clear_handle_id (&ex->wait_source_id, g_source_remove);
  g_clear_handle_id (&ex->ping_source_id, g_source_remove);
  g_clear_signal_handler (&ex->disconnected_id, ex->msg);
  if (ex->daemon_cancelled_id != 0)
    g_cancellable_disconnect (ex->proxy->cancellable, ex->daemon_cancelled_id);
  g_clear_object (&ex->msg);
  g_clear_object (&ex->proxy);
  g_clear_object (&ex->cancellable);
  g_clear_pointer (&ex->config, lctl_config_unref);
  g_clear_pointer (&ex->body, g_bytes_unref);
  g_clear_pointer (&ex->request, lctl_ir_request_free);
  g_clear_pointer (&ex->plan, lctl_route_plan_free);
  g_clear_pointer (&ex->last_error, lctl_ir_error_free);
  g_clear_pointer (&ex->token, lctl_token_unref);
  g_clear_pointer (&ex->tool_names, lctl_tool_names_free);
  g_clear_pointer (&ex->retry_after, g_free);
  g_clear_pointer (&ex->upstream_body, g_byte_array_unref);
  g_clear_pointer (&ex->decoder, lctl_stream_decoder_free);
  g_clear_pointer (&ex->raw_sse, lctl_sse_parser_free);
  if (ex->raw_pending != NULL)
    g_string_free (ex->raw_pending, TRUE);
  g_clear_pointer (&ex->assembled, lctl_ir_response_free);
  g_clear_pointer (&ex->encoder, lctl_stream_encoder_free);
  g_clear_pointer (&ex->pending_events, g_ptr_array_unref);
  g_free (ex->id);
}

static void
exchange_unref (LctlExchange *ex)
{
  g_rc_box_release_full (ex, (GDestroyNotify) exchange_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlExchange, exchange_unref)

static double
ms_since (gint64 since_us)
{
  return since_us > 0 ? (g_get_monotonic_time () - since_us) / 1000.0 : 0;
}

static LctlDialect
dialect_for_endpoint (LctlEndpoint endpoint)
{
  switch (endpoint)
    {
    case LCTL_ENDPOINT_ANTHROPIC_MESSAGES:
    case LCTL_ENDPOINT_ANTHROPIC_COUNT_TOKENS:
      return LCTL_DIALECT_ANTHROPIC;
    case LCTL_ENDPOINT_OPENAI_CHAT:
      return LCTL_DIALECT_OPENAI_CHAT;
    case LCTL_ENDPOINT_OPENAI_RESPONSES:
      return LCTL_DIALECT_RESPONSES;
    case LCTL_ENDPOINT_NONE:
    case LCTL_ENDPOINT_HEALTH:
    case LCTL_ENDPOINT_MODELS:
    case LCTL_ENDPOINT_MODEL:
    default:
      return LCTL_DIALECT_NONE;
    }
}

/* -------------------------------------------------------------------- */
/* Towards the client                                                    */

static double
overhead_ms (LctlExchange *ex)
{
  double before = ex->first_upstream_send_us > 0 ? (ex->first_upstream_send_us - ex->started_us) / 1000.0 : ms_since (ex->started_us);
  double after = ex->upstream_done_us > 0 ? ms_since (ex->upstream_done_us) : 0;

  return before + after;
}

static void
set_route_headers (LctlExchange       *ex,
                   SoupMessageHeaders *headers)
{
  const LctlRouteAttemptRecord *served = ex->plan != NULL ? lctl_route_plan_get_served (ex->plan) : NULL;
  GPtrArray                    *attempts = ex->plan != NULL ? lctl_route_plan_get_attempts (ex->plan) : NULL;
  g_autofree char              *overhead = g_strdup_printf ("%.3f", overhead_ms (ex));
  g_autofree char              *count = g_strdup_printf ("%u", attempts != NULL ? attempts->len : 0);

  soup_message_headers_replace (headers, "x-litellmctl-request-id", ex->id);
  soup_message_headers_replace (headers, "x-litellm-overhead-duration-ms", overhead);
  soup_message_headers_replace (headers, "x-litellmctl-attempts", count);
  if (served != NULL)
    {
      soup_message_headers_replace (headers, "x-litellm-model-group", served->model_group);
      soup_message_headers_replace (headers, "x-litellmctl-deployment", served->deployment_model);
      soup_message_headers_replace (headers, "x-litellm-model-id", served->deployment_id);
    }
  if (attempts != NULL && attempts->len > 0)
    {
      g_autofree char *route = lctl_route_plan_format_attempts (ex->plan);

      soup_message_headers_replace (headers, "x-litellmctl-route", route);
    }
}

static void
send_stream_headers (LctlExchange *ex)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (ex->msg);

  if (ex->headers_sent)
    return;
  ex->headers_sent = TRUE;
  ex->status = SOUP_STATUS_OK;
  soup_server_message_set_status (ex->msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (ex->msg), FALSE);
  set_route_headers (ex, headers);
}

static void
client_write (LctlExchange *ex,
              GBytes       *bytes)
{
  if (bytes == NULL || ex->client_gone || ex->finished)
    return;
  soup_message_body_append_bytes (soup_server_message_get_response_body (ex->msg), bytes);
  soup_server_message_unpause (ex->msg);
  ex->wrote_since_ping = TRUE;
}

static void
emit_finished (LctlExchange *ex)
{
  const LctlRouteAttemptRecord *served = ex->plan != NULL ? lctl_route_plan_get_served (ex->plan) : NULL;
  GVariantBuilder               builder;
  g_autofree char              *route = ex->plan != NULL ? lctl_route_plan_format_attempts (ex->plan) : g_strdup ("");
  double                        latency = ms_since (ex->started_us);

  g_message ("%s %s %s -> %s %u %.1f ms%s%s",
             ex->id, lctl_dialect_to_string (ex->client_dialect),
             ex->request != NULL && ex->request->model != NULL ? ex->request->model : "-",
             served != NULL ? served->deployment_model : "-",
             ex->client_gone ? 499 : ex->status, latency,
             *route != '\0' ? " route: " : "", route);

  /* The record is a few dozen allocations: only for someone who listens
   * (the D-Bus manager, when the daemon is on a bus). */
  if (!g_signal_has_handler_pending (ex->proxy, signals[SIGNAL_REQUEST_FINISHED], 0, TRUE))
    return;
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "id", g_variant_new_string (ex->id));
  g_variant_builder_add (&builder, "{sv}", "requested-model",
                         g_variant_new_string (ex->request != NULL && ex->request->model != NULL ? ex->request->model : ""));
  g_variant_builder_add (&builder, "{sv}", "model", g_variant_new_string (served != NULL ? served->model_group : ""));
  g_variant_builder_add (&builder, "{sv}", "deployment", g_variant_new_string (served != NULL ? served->deployment_model : ""));
  g_variant_builder_add (&builder, "{sv}", "client-dialect", g_variant_new_string (lctl_dialect_to_string (ex->client_dialect)));
  g_variant_builder_add (&builder, "{sv}", "status", g_variant_new_uint32 (ex->client_gone ? 499 : ex->status));
  g_variant_builder_add (&builder, "{sv}", "stream", g_variant_new_boolean (ex->stream));
  g_variant_builder_add (&builder, "{sv}", "latency-ms", g_variant_new_double (latency));
  g_variant_builder_add (&builder, "{sv}", "ttft-ms", g_variant_new_double (ex->ttft_ms));
  g_variant_builder_add (&builder, "{sv}", "overhead-ms", g_variant_new_double (overhead_ms (ex)));
  g_variant_builder_add (&builder, "{sv}", "input-tokens",
                         g_variant_new_uint64 (MAX (lctl_ir_usage_prompt_total (&ex->usage), 0)));
  g_variant_builder_add (&builder, "{sv}", "output-tokens", g_variant_new_uint64 (MAX (ex->usage.output_tokens, 0)));
  g_variant_builder_add (&builder, "{sv}", "attempts",
                         ex->plan != NULL ? lctl_route_plan_attempts_to_variant (ex->plan)
                                          : g_variant_new ("aa{sv}", NULL));
  g_signal_emit (ex->proxy, signals[SIGNAL_REQUEST_FINISHED], 0, g_variant_builder_end (&builder));
}

/* The end of the exchange: nothing happens after this. */
static void
finish (LctlExchange *ex)
{
  if (ex->finished)
    return;

  if (ex->call != NULL)
    {
      lctl_upstream_call_cancel (ex->call);
      ex->call = NULL;
    }
  if (ex->attempt_open && ex->plan != NULL)
    {
      LctlRouteOutcome outcome = { .kind = LCTL_ROUTE_FAILURE_CANCELLED, .error = "client went away", .latency_ms = ms_since (ex->attempt_started_us) };

      ex->attempt_open = FALSE;
      lctl_route_plan_report (ex->plan, &ex->attempt, &outcome);
    }
  g_clear_handle_id (&ex->wait_source_id, g_source_remove);
  g_clear_handle_id (&ex->ping_source_id, g_source_remove);
  emit_finished (ex);
  ex->finished = TRUE;
  g_cancellable_cancel (ex->cancellable);
  exchange_unref (ex); /* the reference lctl_proxy_handle() took */
}

static void
finish_stream (LctlExchange *ex)
{
  if (!ex->client_gone && !ex->finished)
    {
      soup_message_body_complete (soup_server_message_get_response_body (ex->msg));
      soup_server_message_unpause (ex->msg);
    }
  finish (ex);
}

static void
respond_json (LctlExchange *ex,
              unsigned      status,
              JsonNode     *node,
              const char   *retry_after)
{
  g_autoptr (GBytes) bytes = lctl_dialect_node_to_bytes (node);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (ex->msg);
  gsize               size;
  const char         *data = g_bytes_get_data (bytes, &size);

  if (ex->client_gone)
    {
      finish (ex);
      return;
    }
  ex->status = status;
  soup_server_message_set_status (ex->msg, status, NULL);
  set_route_headers (ex, headers);
  if (retry_after != NULL)
    soup_message_headers_replace (headers, "Retry-After", retry_after);
  soup_server_message_set_response (ex->msg, "application/json", SOUP_MEMORY_COPY, data, size);
  soup_server_message_unpause (ex->msg);
  finish (ex);
}

static LctlRouteFailureKind failure_kind_for_error (const LctlIrError *error);

/* Answers with @error in the client's dialect: a status and error object
 * before the first byte, an in-stream error event after it. */
static void
respond_error (LctlExchange      *ex,
               const LctlIrError *error)
{
  /* After the first byte the attempt was reported a success; that it broke
   * after all must still reach the router (health, cooldowns) and the
   * attempt's record (RequestFinished, the log line), as
   * lctl_route_plan_report() asks. Shutting down is nobody's failure. */
  if (ex->committed && ex->plan != NULL && !ex->finished)
    {
      LctlRouteOutcome outcome = {
        .success = FALSE,
        .status = error->status,
        .kind = g_cancellable_is_cancelled (ex->cancellable) ? LCTL_ROUTE_FAILURE_CANCELLED : failure_kind_for_error (error),
        .retry_after = error->retry_after,
        .error = error->message,
        .latency_ms = ms_since (ex->attempt_started_us),
      };

      lctl_route_plan_report (ex->plan, &ex->attempt, &outcome);
    }
  if (ex->headers_sent)
    {
      g_autoptr (GBytes) bytes = NULL;

      if (ex->encoder == NULL)
        ex->encoder = lctl_stream_encoder_new (ex->client_dialect, NULL, ex->request != NULL && ex->request->include_usage);
      bytes = lctl_stream_encoder_error (ex->encoder, error);
      client_write (ex, bytes);
      finish_stream (ex);
      return;
    }
  {
    unsigned status = error->status;
    g_autoptr (JsonNode) node = lctl_dialect_build_error (ex->client_dialect, error, &status);
    g_autofree char *retry_after = error->retry_after > 0 ? g_strdup_printf ("%.0f", ceil (error->retry_after)) : NULL;

    respond_json (ex, status, node, retry_after);
  }
}

static void
respond_new_error (LctlExchange   *ex,
                   LctlIrErrorType type,
                   unsigned        status,
                   const char     *message)
{
  g_autoptr (LctlIrError) error = lctl_ir_error_new (type, status, message);

  respond_error (ex, error);
}

static gboolean
ping_cb (gpointer user_data)
{
  LctlExchange *ex = user_data;
  g_autoptr (GBytes) bytes = NULL;

  /* Once events flow they are the keep-alive: ping only through a silence
   * of a whole interval. */
  if (ex->committed && ex->wrote_since_ping)
    {
      ex->wrote_since_ping = FALSE;
      return G_SOURCE_CONTINUE;
    }
  send_stream_headers (ex);
  if (ex->encoder == NULL)
    ex->encoder = lctl_stream_encoder_new (ex->client_dialect, NULL, ex->request->include_usage);
  bytes = lctl_stream_encoder_ping (ex->encoder);
  client_write (ex, bytes);
  ex->wrote_since_ping = FALSE;
  return G_SOURCE_CONTINUE;
}

/* -------------------------------------------------------------------- */
/* Attempt outcomes                                                      */

static LctlRouteFailureKind
failure_kind_for_error (const LctlIrError *error)
{
  switch (error->type)
    {
    case LCTL_IR_ERROR_RATE_LIMIT:
      return LCTL_ROUTE_FAILURE_RATE_LIMIT;
    case LCTL_IR_ERROR_OVERLOADED:
      return LCTL_ROUTE_FAILURE_OVERLOADED;
    case LCTL_IR_ERROR_TIMEOUT:
      return LCTL_ROUTE_FAILURE_TIMEOUT;
    case LCTL_IR_ERROR_AUTHENTICATION:
    case LCTL_IR_ERROR_PERMISSION:
      return LCTL_ROUTE_FAILURE_AUTH;
    case LCTL_IR_ERROR_NOT_FOUND:
      return LCTL_ROUTE_FAILURE_NOT_FOUND;
    case LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED:
      return LCTL_ROUTE_FAILURE_CONTEXT_WINDOW;
    case LCTL_IR_ERROR_CONTENT_POLICY:
      return LCTL_ROUTE_FAILURE_CONTENT_POLICY;
    case LCTL_IR_ERROR_INVALID_REQUEST:
    case LCTL_IR_ERROR_REQUEST_TOO_LARGE:
      return LCTL_ROUTE_FAILURE_BAD_REQUEST;
    case LCTL_IR_ERROR_API_ERROR:
      /* 501: a deployment this version cannot speak to; retrying is futile. */
      if (error->status == SOUP_STATUS_NOT_IMPLEMENTED)
        return LCTL_ROUTE_FAILURE_OTHER;
      return error->status >= 500 || error->status == 0 ? LCTL_ROUTE_FAILURE_SERVER : LCTL_ROUTE_FAILURE_OTHER;
    case LCTL_IR_ERROR_BILLING:
    default:
      return LCTL_ROUTE_FAILURE_OTHER;
    }
}

static void
close_attempt (LctlExchange *ex)
{
  if (ex->call != NULL)
    {
      lctl_upstream_call_cancel (ex->call);
      ex->call = NULL;
    }
  ex->attempt_open = FALSE;
  ex->body_mode = BODY_NONE;
  ex->upstream_status = 0;
  g_clear_pointer (&ex->retry_after, g_free);
  g_clear_pointer (&ex->upstream_body, g_byte_array_unref);
  g_clear_pointer (&ex->decoder, lctl_stream_decoder_free);
  g_clear_pointer (&ex->raw_sse, lctl_sse_parser_free);
  if (ex->raw_pending != NULL)
    g_string_truncate (ex->raw_pending, 0);
  ex->raw_finished = FALSE;
  ex->raw_closed = FALSE;
  ex->raw = FALSE;
  g_clear_pointer (&ex->assembled, lctl_ir_response_free);
  g_clear_pointer (&ex->tool_names, lctl_tool_names_free);
  g_clear_pointer (&ex->token, lctl_token_unref);
  if (ex->pending_events != NULL)
    g_ptr_array_set_size (ex->pending_events, 0);
  ex->token_retried = FALSE;
}

static void
attempt_failed_full (LctlExchange *ex,
                     LctlIrError  *error,
                     gboolean      transport)
{
  LctlRouteOutcome outcome = {
    .success = FALSE,
    .status = error->status,
    .kind = failure_kind_for_error (error),
    .retry_after = error->retry_after,
    .error = error->message,
    .latency_ms = ms_since (ex->attempt_started_us),
  };

  lctl_debug (LCTL_DEBUG_ROUTER, "%s: %s failed: %u %s", ex->id,
              ex->attempt.deployment->model, error->status, error->message);
  /* No answer (or one cut before its content): the router wants status 0
   * and the kind; the client, if this was the last hope, a 502 or 504. */
  if (transport)
    {
      outcome.status = 0;
      outcome.kind = error->type == LCTL_IR_ERROR_TIMEOUT ? LCTL_ROUTE_FAILURE_TIMEOUT : LCTL_ROUTE_FAILURE_CONNECTION;
    }

  if (ex->attempt_open)
    lctl_route_plan_report (ex->plan, &ex->attempt, &outcome);
  g_clear_pointer (&ex->last_error, lctl_ir_error_free);
  ex->last_error = lctl_ir_error_copy (error);
  close_attempt (ex);
  next_attempt (ex);
}

/* The attempt failed before anything reached the client: tell the router,
 * then try whatever it says comes next. */
static void
attempt_failed (LctlExchange *ex,
                LctlIrError  *error)
{
  attempt_failed_full (ex, error, FALSE);
}

static void
attempt_succeeded (LctlExchange *ex)
{
  LctlRouteOutcome outcome = {
    .success = TRUE,
    .status = ex->upstream_status != 0 ? ex->upstream_status : 200,
    .latency_ms = ms_since (ex->attempt_started_us),
    .ttft_ms = ex->ttft_ms,
  };

  if (!ex->attempt_open)
    return;
  ex->attempt_open = FALSE;
  lctl_route_plan_report (ex->plan, &ex->attempt, &outcome);
}

/* -------------------------------------------------------------------- */
/* Events from the upstream                                              */

static gboolean
event_commits (const LctlIrEvent *event)
{
  /* Nothing the client could not be told otherwise has been said until
   * content starts (or the message ends). */
  return event->type != LCTL_IR_EVENT_MESSAGE_START && event->type != LCTL_IR_EVENT_USAGE &&
         event->type != LCTL_IR_EVENT_PING;
}

static void
write_event (LctlExchange      *ex,
             const LctlIrEvent *event)
{
  g_autoptr (GBytes) bytes = lctl_stream_encoder_encode (ex->encoder, event);

  client_write (ex, bytes);
}

static void
commit (LctlExchange *ex)
{
  ex->committed = TRUE;
  ex->ttft_ms = ms_since (ex->attempt_started_us);
  lctl_route_plan_commit (ex->plan);
  attempt_succeeded (ex);
  if (!ex->stream)
    return;
  send_stream_headers (ex);
  if (ex->raw)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (ex->raw_pending->str, ex->raw_pending->len);

      client_write (ex, bytes);
      g_string_truncate (ex->raw_pending, 0);
      return;
    }
  if (ex->encoder == NULL)
    ex->encoder = lctl_stream_encoder_new (ex->client_dialect, NULL, ex->request->include_usage);
  for (unsigned i = 0; i < ex->pending_events->len; i++)
    write_event (ex, g_ptr_array_index (ex->pending_events, i));
  g_ptr_array_set_size (ex->pending_events, 0);
}

/* Takes @event. Returns FALSE when the exchange moved on (failed over or
 * finished): the caller must not touch the attempt any more. */
static gboolean
handle_event (LctlExchange *ex,
              LctlIrEvent  *event)
{
  g_autoptr (LctlIrEvent) owned = event;

  if (event->type == LCTL_IR_EVENT_MESSAGE_START || event->type == LCTL_IR_EVENT_USAGE ||
      event->type == LCTL_IR_EVENT_MESSAGE_STOP)
    lctl_ir_usage_merge (&ex->usage, &event->usage);
  lctl_tool_names_restore_event (ex->tool_names, event);

  if (event->type == LCTL_IR_EVENT_ERROR)
    {
      if (!ex->committed)
        attempt_failed (ex, event->error);
      else
        respond_error (ex, event->error);
      return FALSE;
    }

  if (!ex->stream)
    {
      /* A non-streaming client of a streaming upstream. */
      if (!ex->committed && event_commits (event))
        commit (ex);
      lctl_ir_response_add_event (ex->assembled, event);
      return TRUE;
    }

  if (!ex->committed)
    {
      if (!event_commits (event))
        {
          /* Held back: the attempt may still fail over. */
          g_ptr_array_add (ex->pending_events, g_steal_pointer (&owned));
          return TRUE;
        }
      commit (ex);
    }
  write_event (ex, event);
  return TRUE;
}

/* Empties @events into handle_event(), in order. */
static gboolean
handle_events (LctlExchange *ex,
               GPtrArray    *events)
{
  gsize                    n_events = 0;
  g_autofree LctlIrEvent **taken = (LctlIrEvent **) g_ptr_array_steal (events, &n_events);
  gboolean                 more = TRUE;

  for (gsize i = 0; i < n_events; i++)
    {
      if (more)
        more = handle_event (ex, taken[i]);
      else
        lctl_ir_event_free (taken[i]);
    }
  return more;
}

static void
serve_response (LctlExchange   *ex,
                LctlIrResponse *response)
{
  lctl_ir_usage_merge (&ex->usage, &response->usage);
  lctl_tool_names_restore_response (ex->tool_names, response);

  if (ex->stream)
    {
      g_autoptr (GPtrArray) events = lctl_ir_response_to_events (response, 0);

      if (handle_events (ex, events))
        finish_stream (ex);
      return;
    }
  {
    g_autoptr (JsonNode) node = lctl_dialect_build_response (ex->client_dialect, response, NULL);

    if (!ex->committed)
      commit (ex);
    respond_json (ex, SOUP_STATUS_OK, node, NULL);
  }
}

/* -------------------------------------------------------------------- */
/* Same dialect: events pass through                                     */

static gboolean
passes_through (LctlExchange *ex)
{
  return ex->provider->dialect == ex->client_dialect && ex->provider->prepare == NULL &&
         !ex->provider->sanitize_tool_names;
}

static gint64
member_int (JsonObject *object,
            const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_int (node) : -1;
}

static JsonObject *
member_object (JsonObject *object,
               const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The usage and the stop reason of the last events, for the log line and
 * the route signal: one small parse per stream, not one per event. */
static void
raw_read_tail (LctlExchange *ex,
               const char   *data)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *usage;

  if (!json_parser_load_from_data (parser, data, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  root = json_node_get_object (json_parser_get_root (parser));
  usage = member_object (root, "usage");
  if (ex->client_dialect == LCTL_DIALECT_ANTHROPIC)
    {
      JsonObject *delta = member_object (root, "delta");
      JsonNode   *stop = delta != NULL ? json_object_get_member (delta, "stop_reason") : NULL;

      if (stop != NULL && !JSON_NODE_HOLDS_NULL (stop))
        ex->raw_finished = TRUE;
      if (member_int (usage, "output_tokens") >= 0)
        ex->usage.output_tokens = member_int (usage, "output_tokens");
      return;
    }
  if (usage != NULL)
    {
      gint64 prompt = member_int (usage, "prompt_tokens");
      gint64 cached = member_int (member_object (usage, "prompt_tokens_details"), "cached_tokens");

      ex->usage.output_tokens = member_int (usage, "completion_tokens");
      ex->usage.cache_read_tokens = MAX (cached, 0);
      ex->usage.input_tokens = prompt >= 0 ? prompt - MAX (cached, 0) : -1;
    }
}

/* After the first content: only the end and the usage are looked at. */
static void
raw_observe (LctlExchange       *ex,
             const LctlSseEvent *sse)
{
  const char *data = sse->data != NULL ? sse->data : "";

  if (ex->client_dialect == LCTL_DIALECT_ANTHROPIC)
    {
      if (g_strcmp0 (sse->event, "message_stop") == 0 || g_strcmp0 (sse->event, "error") == 0)
        ex->raw_closed = TRUE;
      else if (g_strcmp0 (sse->event, "message_delta") == 0)
        raw_read_tail (ex, data);
      return;
    }
  if (g_str_equal (data, "[DONE]") || g_str_has_prefix (data, "{\"error\""))
    {
      ex->raw_closed = TRUE;
      return;
    }
  if (strstr (data, "\"finish_reason\":\"") != NULL || strstr (data, "\"finish_reason\": \"") != NULL)
    ex->raw_finished = TRUE;
  if (strstr (data, "\"usage\":{") != NULL || strstr (data, "\"usage\": {") != NULL)
    raw_read_tail (ex, data);
}

/* Returns FALSE when the exchange moved on. */
static gboolean
raw_handle_events (LctlExchange *ex,
                   GPtrArray    *sse_events)
{
  for (unsigned i = 0; i < sse_events->len; i++)
    {
      LctlSseEvent *sse = g_ptr_array_index (sse_events, i);
      g_autoptr (GString) text = g_string_new (NULL);

      lctl_sse_append_event (text, sse->event, sse->data);
      if (ex->committed)
        {
          g_autoptr (GBytes) bytes = g_string_free_to_bytes (g_steal_pointer (&text));

          raw_observe (ex, sse);
          client_write (ex, bytes);
          continue;
        }

      /* Before the first content the decoder watches: an error there still
       * fails over. */
      {
        g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();
        g_autoptr (GError) error = NULL;
        gboolean commits = FALSE;

        if (!lctl_stream_decoder_feed_event (ex->decoder, sse->event, sse->data, events, &error))
          {
            g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY, error->message);

            attempt_failed (ex, ir_error);
            return FALSE;
          }
        for (unsigned j = 0; j < events->len; j++)
          {
            LctlIrEvent *event = g_ptr_array_index (events, j);

            if (event->type == LCTL_IR_EVENT_ERROR)
              {
                attempt_failed (ex, event->error);
                return FALSE;
              }
            if (event->type == LCTL_IR_EVENT_MESSAGE_START || event->type == LCTL_IR_EVENT_USAGE ||
                event->type == LCTL_IR_EVENT_MESSAGE_STOP)
              lctl_ir_usage_merge (&ex->usage, &event->usage);
            commits |= event_commits (event);
          }
        g_string_append_len (ex->raw_pending, text->str, text->len);
        if (commits)
          {
            commit (ex);
            raw_observe (ex, sse);
          }
      }
    }
  return TRUE;
}

/* The upstream's body ended. */
static void
raw_finish (LctlExchange *ex)
{
  g_autoptr (GPtrArray) sse = lctl_sse_event_array_new ();

  lctl_sse_parser_finish (ex->raw_sse, sse);
  if (!raw_handle_events (ex, sse))
    return;

  if (!ex->committed)
    {
      g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();
      g_autoptr (LctlIrError) ir_error = NULL;

      lctl_stream_decoder_finish (ex->decoder, events);
      for (unsigned j = 0; j < events->len; j++)
        {
          LctlIrEvent *event = g_ptr_array_index (events, j);

          if (event->type == LCTL_IR_EVENT_ERROR)
            {
              attempt_failed (ex, event->error);
              return;
            }
        }
      ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY,
                                    "The upstream's stream ended without an answer");
      attempt_failed (ex, ir_error);
      return;
    }

  if (!ex->raw_closed && ex->raw_finished)
    {
      /* Complete what the upstream left out, as the decoders do. */
      static const char anthropic_stop[] = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
      static const char openai_done[] = "data: [DONE]\n\n";
      g_autoptr (GBytes) bytes = ex->client_dialect == LCTL_DIALECT_ANTHROPIC
                                     ? g_bytes_new_static (anthropic_stop, sizeof anthropic_stop - 1)
                                     : g_bytes_new_static (openai_done, sizeof openai_done - 1);

      client_write (ex, bytes);
    }
  else if (!ex->raw_closed)
    {
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY,
                                                            "The upstream stream ended before the message was complete");

      respond_error (ex, ir_error);
      return;
    }
  finish_stream (ex);
}

/* -------------------------------------------------------------------- */
/* The upstream call                                                     */

static void
upstream_headers_cb (LctlUpstreamCall   *call,
                     unsigned            status,
                     SoupMessageHeaders *headers,
                     gpointer            user_data)
{
  LctlExchange *ex = user_data;
  const char   *content_type = soup_message_headers_get_content_type (headers, NULL);

  ex->upstream_status = status;
  g_clear_pointer (&ex->retry_after, g_free);
  ex->retry_after = g_strdup (soup_message_headers_get_one (headers, "Retry-After"));
  ex->upstream_body = g_byte_array_new ();

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    ex->body_mode = BODY_ERROR;
  else if (g_strcmp0 (content_type, "text/event-stream") == 0)
    {
      ex->body_mode = BODY_STREAM;
      ex->decoder = lctl_stream_decoder_new (ex->provider->dialect);
      if (!ex->stream)
        ex->assembled = lctl_ir_response_new ();
      else if (passes_through (ex))
        {
          ex->raw = TRUE;
          ex->raw_sse = lctl_sse_parser_new ();
          if (ex->raw_pending == NULL)
            ex->raw_pending = g_string_new (NULL);
        }
    }
  else
    ex->body_mode = BODY_JSON;
}

static void
upstream_chunk_cb (LctlUpstreamCall *call,
                   GBytes           *chunk,
                   gpointer          user_data)
{
  /* Handling the chunk may end the exchange. */
  g_autoptr (LctlExchange) ex = exchange_ref (user_data);
  gsize       size;
  const char *data = g_bytes_get_data (chunk, &size);

  switch (ex->body_mode)
    {
    case BODY_ERROR:
      if (ex->upstream_body->len < MAX_ERROR_BODY)
        g_byte_array_append (ex->upstream_body, (const guint8 *) data, MIN (size, MAX_ERROR_BODY - ex->upstream_body->len));
      return;
    case BODY_JSON:
      if (ex->upstream_body->len + size > ex->config->max_request_body * 4)
        {
          respond_new_error (ex, LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY, "The upstream's answer is too large");
          return;
        }
      g_byte_array_append (ex->upstream_body, (const guint8 *) data, size);
      return;
    case BODY_STREAM:
      if (ex->raw)
        {
          g_autoptr (GPtrArray) sse = lctl_sse_event_array_new ();

          lctl_sse_parser_feed (ex->raw_sse, data, size, sse);
          raw_handle_events (ex, sse);
          return;
        }
      {
        g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();
        g_autoptr (GError) error = NULL;
        gboolean ok = lctl_stream_decoder_feed_bytes (ex->decoder, data, size, events, &error);

        if (!handle_events (ex, events))
          return;
        if (!ok)
          {
            g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY, error->message);

            if (ex->committed)
              respond_error (ex, ir_error);
            else
              attempt_failed (ex, ir_error);
          }
        return;
      }
    case BODY_NONE:
    default:
      return;
    }
}

static void get_token (LctlExchange *ex,
                       LctlToken    *rejected);

static void
upstream_done_cb (LctlUpstreamCall *call,
                  const GError     *error,
                  gpointer          user_data)
{
  g_autoptr (LctlExchange) ex = exchange_ref (user_data);

  ex->call = NULL;
  ex->upstream_done_us = g_get_monotonic_time ();

  if (error != NULL)
    {
      LctlIrErrorType  type = g_error_matches (error, LCTL_ERROR, LCTL_ERROR_TIMEOUT) ? LCTL_IR_ERROR_TIMEOUT : LCTL_IR_ERROR_API_ERROR;
      unsigned         status = type == LCTL_IR_ERROR_TIMEOUT ? SOUP_STATUS_GATEWAY_TIMEOUT : SOUP_STATUS_BAD_GATEWAY;
      g_autofree char *message = g_strdup_printf ("%s: %s", ex->attempt.deployment->model, error->message);
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (type, status, message);

      if (ex->committed)
        {
          respond_error (ex, ir_error);
          return;
        }
      attempt_failed_full (ex, ir_error, TRUE);
      return;
    }

  switch (ex->body_mode)
    {
    case BODY_ERROR:
      {
        g_autoptr (LctlIrError) ir_error = lctl_dialect_parse_error (ex->provider->dialect, ex->upstream_status,
                                                                     (const char *) ex->upstream_body->data,
                                                                     ex->upstream_body->len, ex->retry_after);

        /* An OAuth token the upstream no longer takes: refresh once and
         * try the same deployment again. */
        if (ex->upstream_status == SOUP_STATUS_UNAUTHORIZED && ex->token != NULL && !ex->token_retried)
          {
            g_autoptr (LctlToken) rejected = g_steal_pointer (&ex->token);

            ex->token_retried = TRUE;
            ex->body_mode = BODY_NONE;
            g_clear_pointer (&ex->upstream_body, g_byte_array_unref);
            /* The retry sanitises the tool names of a fresh request again. */
            g_clear_pointer (&ex->tool_names, lctl_tool_names_free);
            get_token (ex, rejected);
            return;
          }
        attempt_failed (ex, ir_error);
        return;
      }
    case BODY_JSON:
      {
        g_autoptr (GError) parse_error = NULL;
        g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (ex->provider->dialect,
                                                                           (const char *) ex->upstream_body->data,
                                                                           ex->upstream_body->len, &parse_error);

        if (response == NULL)
          {
            g_autofree char *message = g_strdup_printf ("Malformed answer from %s: %s",
                                                        ex->attempt.deployment->model, parse_error->message);
            g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY, message);

            attempt_failed (ex, ir_error);
            return;
          }
        serve_response (ex, response);
        return;
      }
    case BODY_STREAM:
      if (ex->raw)
        {
          raw_finish (ex);
          return;
        }
      {
        g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();

        lctl_stream_decoder_finish (ex->decoder, events);
        if (!handle_events (ex, events))
          return;
        if (!ex->committed)
          {
            /* The stream ended with nothing at all. */
            g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY,
                                                                  "The upstream's stream ended without an answer");

            attempt_failed (ex, ir_error);
            return;
          }
        if (ex->stream)
          finish_stream (ex);
        else
          {
            /* Its events had their tool names restored one by one. */
            g_autoptr (JsonNode) node = lctl_dialect_build_response (ex->client_dialect, ex->assembled, NULL);

            respond_json (ex, SOUP_STATUS_OK, node, NULL);
          }
        return;
      }
    case BODY_NONE:
    default:
      attempt_failed (ex, &(LctlIrError){ .type = LCTL_IR_ERROR_API_ERROR, .status = SOUP_STATUS_BAD_GATEWAY, .message = (char *) "No answer" });
      return;
    }
}

static const LctlUpstreamCallbacks upstream_callbacks = {
  .headers = upstream_headers_cb,
  .chunk = upstream_chunk_cb,
  .done = upstream_done_cb,
};

static double
param_double (JsonObject *params,
              const char *name,
              double      fallback)
{
  JsonNode *node = params != NULL ? json_object_get_member (params, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  return json_node_get_double (node);
}

/* The request cannot go to this deployment as it is: a 400 for the client,
 * and for the router a client error, which benches nobody. */
static void
refuse_request (LctlExchange *ex,
                const char   *message)
{
  LctlRouteOutcome outcome = {
    .status = SOUP_STATUS_BAD_REQUEST,
    .kind = LCTL_ROUTE_FAILURE_BAD_REQUEST,
    .error = message,
  };

  ex->attempt_open = FALSE;
  lctl_route_plan_report (ex->plan, &ex->attempt, &outcome);
  respond_new_error (ex, LCTL_IR_ERROR_INVALID_REQUEST, SOUP_STATUS_BAD_REQUEST, message);
}

/* Protocol hints of one dialect that another cannot carry and whose loss
 * does not change what the answer means (Claude Code always sends the first
 * two): dropped by design, whatever drop_params says. */
static const char *const hints[] = {
  "context_management", "output_config", "service_tier", "metadata", "prompt_cache_key",
  "store", "client_metadata", "include", "speed", "user", NULL
};

/* Returns FALSE after answering 400 when drop_params is false and the
 * upstream cannot take a parameter the client set. */
static gboolean
report_dropped (LctlExchange *ex,
                GPtrArray    *dropped)
{
  g_autoptr (GString) refused = g_string_new (NULL);
  g_autoptr (GString) all = g_string_new (NULL);

  for (unsigned i = 0; i < dropped->len; i++)
    {
      const char *name = g_ptr_array_index (dropped, i);

      g_string_append_printf (all, "%s%s", all->len > 0 ? ", " : "", name);
      if (!g_strv_contains (hints, name))
        g_string_append_printf (refused, "%s%s", refused->len > 0 ? ", " : "", name);
    }
  lctl_debug (LCTL_DEBUG_HTTP, "%s: dropped for %s: %s", ex->id, ex->attempt.deployment->model, all->str);
  if (ex->config->drop_params || refused->len == 0)
    return TRUE;
  {
    g_autofree char *message = g_strdup_printf ("%s does not support: %s (set litellm_settings.drop_params: true to drop them)",
                                                ex->attempt.deployment->model, refused->str);

    refuse_request (ex, message);
  }
  return FALSE;
}

/* Builds the upstream body for this attempt. Returns NULL after answering
 * the client (drop_params: false and a parameter the upstream can't take). */
static GBytes *
build_upstream_body (LctlExchange *ex,
                     gboolean      upstream_stream)
{
  const LctlDeployment *deployment = ex->attempt.deployment;
  const LctlProvider   *provider = ex->provider;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  gsize       size;
  const char *data = g_bytes_get_data (ex->body, &size);

  if (passes_through (ex))
    node = lctl_dialect_passthrough_request (provider->dialect, data, size, ex->attempt.upstream_model,
                                             deployment->params, &error);
  else
    {
      g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (ex->client_dialect, data, size, &error);
      g_autoptr (GPtrArray) dropped = g_ptr_array_new_with_free_func (g_free);
      LctlBuildOptions options = { .dropped = dropped };

      if (request != NULL)
        {
          lctl_ir_request_apply_defaults (request, deployment->params);
          request->stream = upstream_stream;
          if (upstream_stream)
            request->include_usage = TRUE;
          lctl_provider_prepare_request (provider, request);
          if (lctl_provider_sanitizes_tool_names (provider))
            ex->tool_names = lctl_tool_names_sanitize_request (request);
          node = lctl_dialect_build_request (provider->dialect, request, ex->attempt.upstream_model, &options, &error);
        }
      if (node != NULL && dropped->len > 0 && !report_dropped (ex, dropped))
        return NULL;
    }

  if (node == NULL && g_error_matches (error, LCTL_ERROR, LCTL_ERROR_UNSUPPORTED))
    {
      /* Not this request's fault: let the chain go on. */
      g_autofree char *message = g_strdup_printf ("%s: %s", deployment->model, error->message);
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_NOT_IMPLEMENTED, message);

      attempt_failed (ex, ir_error);
      return NULL;
    }
  if (node == NULL)
    {
      refuse_request (ex, error != NULL ? error->message : "Cannot translate the request");
      return NULL;
    }
  /* LiteLLM's per-request routing field is ours, not the upstream's. */
  if (JSON_NODE_HOLDS_OBJECT (node))
    json_object_remove_member (json_node_get_object (node), "fallbacks");
  return lctl_dialect_node_to_bytes (node);
}

static void
send_attempt (LctlExchange *ex)
{
  const LctlDeployment *deployment = ex->attempt.deployment;
  const LctlProvider   *provider = ex->provider;
  /* The ChatGPT backend streams, whatever the client wants. */
  gboolean upstream_stream = ex->stream || provider->dialect == LCTL_DIALECT_RESPONSES;
  g_autoptr (GBytes) body = build_upstream_body (ex, upstream_stream);
  g_autofree char *url = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  LctlUpstreamTimeouts timeouts = { 0 };

  if (body == NULL)
    return;

  url = lctl_provider_build_url (provider, deployment, ex->token, ex->attempt.upstream_model, upstream_stream);
  msg = soup_message_new ("POST", url);
  if (msg == NULL)
    {
      g_autofree char *message = g_strdup_printf ("%s: invalid upstream URL %s", deployment->model, url);
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, SOUP_STATUS_BAD_GATEWAY, message);

      attempt_failed (ex, ir_error);
      return;
    }
  lctl_provider_add_headers (provider, deployment, ex->token, soup_server_message_get_request_headers (ex->msg),
                             soup_message_get_request_headers (msg), upstream_stream);
  soup_message_set_request_body_from_bytes (msg, NULL, body);

  lctl_router_deployment_timeouts (ex->config, deployment, &timeouts.total, &timeouts.first_byte);
  if (upstream_stream)
    timeouts.idle = param_double (deployment->params, "stream_idle_timeout", DEFAULT_STREAM_IDLE_TIMEOUT);
  else
    timeouts.first_byte = 0;

  lctl_debug (LCTL_DEBUG_HTTP, "%s: POST %s (%s, attempt %u)", ex->id, url, deployment->model, ex->attempt.index);
  if (ex->first_upstream_send_us == 0)
    ex->first_upstream_send_us = g_get_monotonic_time ();
  ex->call = lctl_upstream_send (ex->proxy->upstream, msg, &timeouts, ex->cancellable, &upstream_callbacks, ex);
}

static void
token_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr (LctlExchange) ex = user_data;
  g_autoptr (GError) error = NULL;
  LctlToken *token = lctl_token_source_get_token_finish (LCTL_TOKEN_SOURCE (source), result, &error);

  if (ex->finished || !ex->attempt_open)
    {
      g_clear_pointer (&token, lctl_token_unref);
      return;
    }
  if (token == NULL)
    {
      g_autofree char *message = g_strdup_printf ("%s: %s", ex->attempt.deployment->model, error->message);
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_AUTHENTICATION, SOUP_STATUS_UNAUTHORIZED, message);

      attempt_failed (ex, ir_error);
      return;
    }
  ex->token = token;
  send_attempt (ex);
}

static void
get_token (LctlExchange *ex,
           LctlToken    *rejected)
{
  lctl_token_source_get_token_async (ex->proxy->tokens, ex->provider->token_provider, rejected,
                                     ex->cancellable, token_cb, exchange_ref (ex));
}

static void
serve_mock (LctlExchange *ex)
{
  g_autoptr (LctlIrResponse) response = lctl_ir_mock_response (ex->request, ex->attempt.deployment->mock_response);

  ex->upstream_status = SOUP_STATUS_OK;
  serve_response (ex, response);
}

static void
start_attempt (LctlExchange *ex)
{
  const LctlDeployment *deployment = ex->attempt.deployment;

  ex->attempt_open = TRUE;
  ex->attempt_started_us = g_get_monotonic_time ();

  if (deployment->mock_response != NULL)
    {
      serve_mock (ex);
      return;
    }

  ex->provider = lctl_provider_lookup (deployment->provider);
  if (ex->provider == NULL)
    {
      g_autofree char *message = g_strdup_printf ("Unknown provider “%s” in %s", deployment->provider, deployment->model);
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_INVALID_REQUEST, SOUP_STATUS_BAD_REQUEST, message);

      ir_error->status = SOUP_STATUS_NOT_IMPLEMENTED;
      attempt_failed (ex, ir_error);
      return;
    }

  if (ex->provider->token_provider != NULL)
    {
      if (ex->proxy->tokens == NULL)
        {
          g_autofree char *message = g_strdup_printf ("%s needs a %s login, and no account store is available",
                                                      deployment->model, ex->provider->token_provider);
          g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_AUTHENTICATION, SOUP_STATUS_UNAUTHORIZED, message);

          attempt_failed (ex, ir_error);
          return;
        }
      get_token (ex, NULL);
      return;
    }
  send_attempt (ex);
}

static gboolean
wait_done_cb (gpointer user_data)
{
  LctlExchange *ex = user_data;

  ex->wait_source_id = 0;
  start_attempt (ex);
  return G_SOURCE_REMOVE;
}

static void
next_attempt (LctlExchange *ex)
{
  if (ex->finished)
    return;
  if (g_cancellable_is_cancelled (ex->cancellable))
    {
      respond_new_error (ex, LCTL_IR_ERROR_OVERLOADED, SOUP_STATUS_SERVICE_UNAVAILABLE, "The proxy is shutting down");
      return;
    }
  if (!lctl_route_plan_next (ex->plan, &ex->attempt))
    {
      g_autoptr (LctlIrError) error = g_steal_pointer (&ex->last_error);
      LctlRouteOutcome last;
      gboolean         known = lctl_route_plan_get_last_failure (ex->plan, &last);

      if (error == NULL)
        {
          /* Nothing was tried: every deployment is cooling down. */
          error = lctl_ir_error_new (known && last.kind == LCTL_ROUTE_FAILURE_RATE_LIMIT ? LCTL_IR_ERROR_RATE_LIMIT : LCTL_IR_ERROR_OVERLOADED,
                                     known && last.status != 0 ? last.status : SOUP_STATUS_SERVICE_UNAVAILABLE,
                                     "Every deployment of this model is cooling down after failures; try again later");
        }
      /* The router caps what an upstream asked for: pass on when it will
       * really take requests again. */
      if (known && last.retry_after > 0)
        error->retry_after = last.retry_after;
      respond_error (ex, error);
      return;
    }
  if (ex->attempt.wait_ms > 0)
    {
      lctl_debug (LCTL_DEBUG_ROUTER, "%s: waiting %u ms before %s", ex->id, ex->attempt.wait_ms,
                  ex->attempt.deployment->model);
      ex->wait_source_id = g_timeout_add (ex->attempt.wait_ms, wait_done_cb, ex);
      return;
    }
  start_attempt (ex);
}

/* -------------------------------------------------------------------- */
/* Entry                                                                 */

static void
client_disconnected_cb (SoupServerMessage *msg,
                        gpointer           user_data)
{
  LctlExchange *ex = user_data;

  if (ex->finished)
    return;
  lctl_debug (LCTL_DEBUG_HTTP, "%s: client went away", ex->id);
  ex->client_gone = TRUE;
  finish (ex);
}

static void
serve_count_tokens (LctlExchange *ex)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "input_tokens");
  json_builder_add_int_value (builder, lctl_count_tokens_request (ex->request));
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  respond_json (ex, SOUP_STATUS_OK, node, NULL);
}

static void
daemon_cancelled_cb (GCancellable *daemon_cancellable,
                     gpointer      request_cancellable)
{
  g_cancellable_cancel (request_cancellable);
}

void
lctl_proxy_handle (LctlServer        *server,
                   SoupServerMessage *msg,
                   LctlEndpoint       endpoint,
                   LctlConfig        *config,
                   gpointer           user_data)
{
  LctlProxy       *self = LCTL_PROXY (user_data);
  LctlExchange    *ex = g_rc_box_new0 (LctlExchange);
  SoupMessageBody *request_body = soup_server_message_get_request_body (msg);
  /* A body that arrived in one piece is used as it is, not copied. */
  g_autoptr (GBytes) flattened = soup_message_body_get_chunk (request_body, 0);
  g_autoptr (GError) error = NULL;
  JsonNode *fallbacks;

  ex->proxy = g_object_ref (self);
  ex->msg = g_object_ref (msg);
  ex->endpoint = endpoint;
  ex->client_dialect = dialect_for_endpoint (endpoint);
  ex->config = lctl_config_ref (config);
  ex->id = g_strdup_printf ("req_%" G_GINT64_MODIFIER "x%04" G_GINT64_MODIFIER "x",
                            g_get_real_time () / 1000, ++self->next_request_id % 0x10000);
  ex->started_us = g_get_monotonic_time ();
  ex->cancellable = g_cancellable_new ();
  ex->pending_events = lctl_ir_event_array_new ();
  if (flattened == NULL || (goffset) g_bytes_get_size (flattened) != request_body->length)
    {
      g_clear_pointer (&flattened, g_bytes_unref);
      flattened = soup_message_body_flatten (request_body);
    }
  ex->body = g_steal_pointer (&flattened);
  ex->status = SOUP_STATUS_OK;

  soup_server_message_pause (msg);
  ex->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (client_disconnected_cb), ex);
  if (self->cancellable != NULL)
    {
      /* At shutdown every upstream call is cancelled. */
      ex->daemon_cancelled_id = g_cancellable_connect (self->cancellable, G_CALLBACK (daemon_cancelled_cb),
                                                       g_object_ref (ex->cancellable), g_object_unref);
      if (ex->daemon_cancelled_id == 0)
        {
          respond_new_error (ex, LCTL_IR_ERROR_OVERLOADED, SOUP_STATUS_SERVICE_UNAVAILABLE, "The proxy is shutting down");
          return;
        }
    }

  ex->request = lctl_dialect_parse_request (ex->client_dialect, g_bytes_get_data (ex->body, NULL),
                                            g_bytes_get_size (ex->body), &error);
  if (ex->request == NULL)
    {
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_from_gerror (error);

      if (g_error_matches (error, LCTL_ERROR, LCTL_ERROR_UNSUPPORTED))
        ir_error->status = SOUP_STATUS_NOT_IMPLEMENTED;
      respond_error (ex, ir_error);
      return;
    }
  ex->stream = ex->request->stream;

  if (endpoint == LCTL_ENDPOINT_ANTHROPIC_COUNT_TOKENS)
    {
      ex->stream = FALSE;
      serve_count_tokens (ex);
      return;
    }

  fallbacks = ex->request->extras != NULL ? json_object_get_member (ex->request->extras, "fallbacks") : NULL;
  ex->plan = lctl_router_plan (self->router, config, ex->request->model, fallbacks, &error);
  if (ex->plan == NULL)
    {
      g_autoptr (LctlIrError) ir_error = lctl_ir_error_new (LCTL_IR_ERROR_NOT_FOUND, SOUP_STATUS_NOT_FOUND, error->message);

      ir_error->code = g_strdup ("model_not_found");
      respond_error (ex, ir_error);
      return;
    }

  if (ex->stream)
    ex->ping_source_id = g_timeout_add (self->ping_interval_ms, ping_cb, ex);
  next_attempt (ex);
}

static void
lctl_proxy_dispose (GObject *object)
{
  LctlProxy *self = LCTL_PROXY (object);

  g_clear_object (&self->router);
  g_clear_object (&self->upstream);
  g_clear_object (&self->tokens);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (lctl_proxy_parent_class)->dispose (object);
}

static void
lctl_proxy_class_init (LctlProxyClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lctl_proxy_dispose;

  /**
   * LctlProxy::request-finished:
   * @route: (type GVariant): An `a{sv}` as in the RequestFinished D-Bus
   *   signal.
   */
  signals[SIGNAL_REQUEST_FINISHED] = g_signal_new ("request-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                   0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
}

static void
lctl_proxy_init (LctlProxy *self)
{
  const char *ping = g_getenv ("LITELLMCTL_PING_INTERVAL_MS");
  guint64     value;

  self->ping_interval_ms = DEFAULT_PING_INTERVAL_MS;
  if (ping != NULL && g_ascii_string_to_unsigned (ping, 10, 10, G_MAXUINT, &value, NULL))
    self->ping_interval_ms = value;
}

LctlProxy *
lctl_proxy_new (LctlRouter      *router,
                LctlUpstream    *upstream,
                LctlTokenSource *tokens,
                GCancellable    *cancellable)
{
  LctlProxy *self = g_object_new (LCTL_TYPE_PROXY, NULL);

  self->router = g_object_ref (router);
  self->upstream = g_object_ref (upstream);
  self->tokens = tokens != NULL ? g_object_ref (tokens) : NULL;
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  return self;
}

/* How long a stream may stay silent before the client gets a keep-alive. */
void
lctl_proxy_set_ping_interval (LctlProxy *self,
                              unsigned   milliseconds)
{
  g_return_if_fail (LCTL_IS_PROXY (self));
  g_return_if_fail (milliseconds > 0);

  self->ping_interval_ms = milliseconds;
}

void
lctl_proxy_set_token_source (LctlProxy       *self,
                             LctlTokenSource *tokens)
{
  g_return_if_fail (LCTL_IS_PROXY (self));

  g_set_object (&self->tokens, tokens);
}
