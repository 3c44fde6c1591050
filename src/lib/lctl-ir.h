/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The intermediate representation (IR) of one chat exchange. Every dialect
 * converts to and from it; no dialect talks to another directly.
 *
 * Plain structs, owned through their _free functions. Strings are UTF-8 and
 * owned by the struct holding them; JsonNode/JsonObject members hold one
 * reference each. Optional numbers use a sentinel documented per field.
 */

/**
 * LctlDialect:
 * @LCTL_DIALECT_NONE: Not known (an IR built by hand).
 * @LCTL_DIALECT_ANTHROPIC: Anthropic Messages (`/v1/messages`).
 * @LCTL_DIALECT_OPENAI_CHAT: OpenAI Chat Completions.
 * @LCTL_DIALECT_RESPONSES: OpenAI Responses.
 * @LCTL_DIALECT_GEMINI: Gemini generateContent.
 *
 * The wire formats. Lives here because an IR value remembers the dialect it
 * was parsed from: fields only that dialect understands survive a
 * same-dialect round trip and are dropped for any other.
 */
typedef enum
{
  LCTL_DIALECT_NONE,
  LCTL_DIALECT_ANTHROPIC,
  LCTL_DIALECT_OPENAI_CHAT,
  LCTL_DIALECT_RESPONSES,
  LCTL_DIALECT_GEMINI,
} LctlDialect;

const char *lctl_dialect_to_string (LctlDialect dialect);

typedef enum
{
  LCTL_IR_ROLE_USER,
  LCTL_IR_ROLE_ASSISTANT,
  /* A system message in the middle of the conversation (Anthropic's
   * mid-conversation-system beta, an OpenAI system/developer message after
   * the first turn). Leading system text goes to LctlIrRequest.system. */
  LCTL_IR_ROLE_SYSTEM,
  /* OpenAI role "tool": one tool result. Anthropic carries results as
   * tool_result parts of a user message instead; builders convert. */
  LCTL_IR_ROLE_TOOL,
} LctlIrRole;

typedef enum
{
  LCTL_IR_PART_TEXT,
  LCTL_IR_PART_IMAGE,
  LCTL_IR_PART_TOOL_CALL,
  LCTL_IR_PART_TOOL_RESULT,
  LCTL_IR_PART_THINKING,
  LCTL_IR_PART_REDACTED_THINKING,
  /* Responses' reasoning item with encrypted_content (text = the blob). */
  LCTL_IR_PART_ENCRYPTED_REASONING,
  /* A block the IR does not model (e.g. Anthropic `document`,
   * `server_tool_use`), kept verbatim in @raw for a same-dialect builder. */
  LCTL_IR_PART_RAW,
} LctlIrPartKind;

/**
 * LctlIrPart:
 * @kind: What the part is.
 * @text: TEXT and THINKING text; TOOL_RESULT content when it is a plain
 *   string; REDACTED_THINKING data; ENCRYPTED_REASONING content.
 * @signature: THINKING signature, byte for byte.
 * @media_type: IMAGE media type of @data (e.g. `image/png`).
 * @data: IMAGE base64 data (no `data:` prefix), or %NULL.
 * @url: IMAGE URL when not inline, or %NULL.
 * @id: TOOL_CALL id; TOOL_RESULT the id of the call it answers;
 *   ENCRYPTED_REASONING the item id.
 * @name: TOOL_CALL function name; TOOL_RESULT the name when known
 *   (Gemini's functionResponse needs it).
 * @arguments: TOOL_CALL arguments as JSON text (an object).
 * @content: TOOL_RESULT content as parts, or %NULL when @text is used.
 * @is_error: TOOL_RESULT is an error.
 * @cache_control: Anthropic `cache_control`, or %NULL.
 * @raw: RAW the block as sent.
 * @raw_dialect: RAW the dialect @raw is written in.
 * @extra: Provider fields the IR does not model that a later build in
 *   the same dialect may want back (Gemini `thoughtSignature`, Responses
 *   item ids, OpenAI image `detail`), or %NULL.
 */
typedef struct _LctlIrPart LctlIrPart;
struct _LctlIrPart
{
  LctlIrPartKind kind;
  char          *text;
  char          *signature;
  char          *media_type;
  char          *data;
  char          *url;
  char          *id;
  char          *name;
  char          *arguments;
  GPtrArray     *content;
  gboolean       is_error;
  JsonNode      *cache_control;
  JsonNode      *raw;
  LctlDialect    raw_dialect;
  JsonObject    *extra;
};

LctlIrPart *lctl_ir_part_new (LctlIrPartKind kind);
LctlIrPart *lctl_ir_part_new_text (const char *text);
LctlIrPart *lctl_ir_part_copy (const LctlIrPart *part);
void        lctl_ir_part_free (LctlIrPart *part);
/* The text of a TOOL_RESULT (its string, or its text parts joined). */
char *lctl_ir_part_tool_result_text (const LctlIrPart *part);

typedef struct
{
  LctlIrRole  role;
  GPtrArray  *parts; /* (element-type LctlIrPart) */
  char       *name;  /* OpenAI participant name, or NULL */
  JsonObject *extra;
} LctlIrMessage;

LctlIrMessage *lctl_ir_message_new (LctlIrRole role);
void           lctl_ir_message_free (LctlIrMessage *message);

/**
 * LctlIrTool:
 * @type: %NULL for a function tool; otherwise the non-function tool type
 *   as the client wrote it (`web_search_20250305`, `custom`, `namespace`…)
 *   and @raw holds it.
 * @name: Function name.
 * @description: Or %NULL.
 * @parameters: JSON Schema of the arguments (an object node), or %NULL.
 * @strict: OpenAI `strict`, -1 when unset.
 */
typedef struct
{
  char       *type;
  char       *name;
  char       *description;
  JsonNode   *parameters;
  int         strict;
  JsonNode   *cache_control;
  JsonNode   *raw;
  LctlDialect raw_dialect;
  JsonObject *extra;
} LctlIrTool;

LctlIrTool *lctl_ir_tool_new (void);
void        lctl_ir_tool_free (LctlIrTool *tool);

typedef enum
{
  LCTL_IR_TOOL_CHOICE_UNSET,
  LCTL_IR_TOOL_CHOICE_AUTO,
  LCTL_IR_TOOL_CHOICE_ANY,  /* OpenAI "required" */
  LCTL_IR_TOOL_CHOICE_TOOL, /* a named tool */
  LCTL_IR_TOOL_CHOICE_NONE,
} LctlIrToolChoiceMode;

typedef struct
{
  LctlIrToolChoiceMode mode;
  char                *name;
  int                  parallel; /* -1 unset, else whether parallel calls are allowed */
} LctlIrToolChoice;

typedef enum
{
  LCTL_IR_THINKING_UNSET,
  LCTL_IR_THINKING_ENABLED,
  LCTL_IR_THINKING_ADAPTIVE,
  LCTL_IR_THINKING_DISABLED,
} LctlIrThinkingMode;

/**
 * LctlIrThinking:
 * @mode: Anthropic `thinking.type`; ENABLED also for an OpenAI
 *   `reasoning_effort` other than "none".
 * @budget_tokens: Anthropic `budget_tokens`, 0 when unset.
 * @effort: `low`, `medium`, `high`, `max`, `minimal`… (Anthropic
 *   `output_config.effort`, OpenAI `reasoning_effort`), or %NULL.
 */
typedef struct
{
  LctlIrThinkingMode mode;
  gint64             budget_tokens;
  char              *effort;
} LctlIrThinking;

typedef enum
{
  LCTL_IR_FORMAT_UNSET,
  LCTL_IR_FORMAT_TEXT,
  LCTL_IR_FORMAT_JSON_OBJECT,
  LCTL_IR_FORMAT_JSON_SCHEMA,
} LctlIrFormatType;

typedef struct
{
  LctlIrFormatType type;
  char            *name;
  JsonNode        *schema;
  int              strict; /* -1 unset */
} LctlIrResponseFormat;

/**
 * LctlIrRequest:
 * @dialect: The dialect the request was parsed from.
 * @model: The model the client asked for.
 * @system: Leading system text, as TEXT parts (cache_control kept).
 * @messages: The conversation.
 * @tools: Tool definitions.
 * @max_tokens: 0 when unset.
 * @max_tokens_field: OpenAI only: which field the client used
 *   (`max_tokens` or `max_completion_tokens`), or %NULL.
 * @temperature: NAN when unset; likewise @top_p.
 * @top_k: -1 when unset.
 * @seed: Valid when @has_seed.
 * @stop: Stop sequences, %NULL-terminated, or %NULL.
 * @user: End-user id: Anthropic `metadata.user_id` (often a JSON string),
 *   OpenAI `user`.
 * @stream: Whether the client asked for a stream.
 * @include_usage: OpenAI `stream_options.include_usage`.
 * @extras: Top-level fields of the client body that the IR does not model
 *   (`context_management`, `service_tier`, `n`, …). A builder of the same
 *   dialect as @dialect writes them back untouched; others drop them.
 * @upstream_params: Deployment defaults (`litellm_params` such as
 *   `thinking`, `max_tokens`, extra body params) that every builder
 *   merges into the upstream body when the body lacks them. Set by
 *   lctl_ir_request_apply_defaults().
 */
typedef struct
{
  LctlDialect          dialect;
  char                *model;
  GPtrArray           *system;
  GPtrArray           *messages;
  GPtrArray           *tools;
  LctlIrToolChoice     tool_choice;
  gint64               max_tokens;
  char                *max_tokens_field;
  double               temperature;
  double               top_p;
  int                  top_k;
  gint64               seed;
  gboolean             has_seed;
  char               **stop;
  LctlIrThinking       thinking;
  LctlIrResponseFormat response_format;
  char                *user;
  gboolean             stream;
  gboolean             include_usage;
  JsonObject          *extras;
  JsonObject          *upstream_params;
} LctlIrRequest;

LctlIrRequest *lctl_ir_request_new (LctlDialect dialect);
void           lctl_ir_request_free (LctlIrRequest *request);
/* All system text joined with blank lines, or NULL when there is none. */
char *lctl_ir_request_system_text (const LctlIrRequest *request);

/**
 * lctl_ir_request_apply_defaults:
 * @request: A request.
 * @params: (nullable): A deployment's `litellm_params`.
 *
 * Applies a deployment's defaults where the request does not set them:
 * `max_tokens`, `temperature`, `top_p`, `top_k`, `stop`, `thinking`,
 * `reasoning_effort`, `user`. Any other key not known to be a proxy
 * setting (`api_key`, `timeout`, `mock_response`…) is kept in
 * @upstream_params and sent upstream as a body field.
 */
void lctl_ir_request_apply_defaults (LctlIrRequest *request,
                                     JsonObject    *params);

/* Whether a litellm_params key configures the proxy rather than the body. */
gboolean lctl_ir_param_is_proxy_setting (const char *key);

typedef enum
{
  LCTL_IR_STOP_NONE, /* not known yet */
  LCTL_IR_STOP_END_TURN,
  LCTL_IR_STOP_MAX_TOKENS,
  LCTL_IR_STOP_STOP_SEQUENCE,
  LCTL_IR_STOP_TOOL_USE,
  LCTL_IR_STOP_CONTENT_FILTER,
  LCTL_IR_STOP_PAUSE,
  LCTL_IR_STOP_REFUSAL,
  LCTL_IR_STOP_CONTEXT_WINDOW,
  LCTL_IR_STOP_ERROR,
} LctlIrStopReason;

/**
 * LctlIrUsage:
 * @input_tokens: Input tokens NOT read from or written to the cache
 *   (Anthropic's meaning; OpenAI `prompt_tokens` = input + cache_read +
 *   cache_creation).
 * @output_tokens: All output tokens, reasoning included.
 * @cache_read_tokens: Input tokens read from the cache.
 * @cache_creation_tokens: Input tokens written to the cache.
 * @reasoning_tokens: The part of @output_tokens spent on reasoning.
 *
 * -1 in any field means "not reported".
 */
typedef struct
{
  gint64 input_tokens;
  gint64 output_tokens;
  gint64 cache_read_tokens;
  gint64 cache_creation_tokens;
  gint64 reasoning_tokens;
} LctlIrUsage;

void lctl_ir_usage_init (LctlIrUsage *usage);
/* Copies every reported field of @from over @into. */
void lctl_ir_usage_merge (LctlIrUsage       *into,
                          const LctlIrUsage *from);
/* input + cache_read + cache_creation, unreported fields as 0. */
gint64 lctl_ir_usage_prompt_total (const LctlIrUsage *usage);

typedef struct
{
  LctlDialect      dialect;
  char            *id;
  char            *model;
  GPtrArray       *parts;
  LctlIrStopReason stop_reason;
  char            *stop_sequence;
  LctlIrUsage      usage;
  JsonObject      *extra;
} LctlIrResponse;

LctlIrResponse *lctl_ir_response_new (void);
void            lctl_ir_response_free (LctlIrResponse *response);

typedef enum
{
  LCTL_IR_ERROR_INVALID_REQUEST,
  LCTL_IR_ERROR_AUTHENTICATION,
  LCTL_IR_ERROR_PERMISSION,
  LCTL_IR_ERROR_NOT_FOUND,
  LCTL_IR_ERROR_REQUEST_TOO_LARGE,
  LCTL_IR_ERROR_RATE_LIMIT,
  LCTL_IR_ERROR_OVERLOADED,
  LCTL_IR_ERROR_API_ERROR,
  LCTL_IR_ERROR_TIMEOUT,
  LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED,
  LCTL_IR_ERROR_CONTENT_POLICY,
  LCTL_IR_ERROR_BILLING,
} LctlIrErrorType;

/**
 * LctlIrError:
 * @type: What went wrong.
 * @status: The HTTP status to answer with (the upstream's, kept).
 * @message: Human-readable text; never contains credentials.
 * @param: OpenAI `param`, or %NULL.
 * @code: OpenAI `code` / provider code, or %NULL.
 * @retry_after: Seconds to wait before retrying (from `Retry-After`), 0
 *   when unknown. The server sends it as `Retry-After`.
 */
typedef struct
{
  LctlIrErrorType type;
  unsigned        status;
  char           *message;
  char           *param;
  char           *code;
  double          retry_after;
} LctlIrError;

LctlIrError *lctl_ir_error_new (LctlIrErrorType type,
                                unsigned        status,
                                const char     *message);
LctlIrError *lctl_ir_error_copy (const LctlIrError *error);
void         lctl_ir_error_free (LctlIrError *error);
/* The usual HTTP status for a type (429, 529, 401…). */
unsigned lctl_ir_error_type_default_status (LctlIrErrorType type);
/* Classifies by HTTP status only. */
LctlIrErrorType lctl_ir_error_type_from_status (unsigned status);
/* Builds an error from a GError (e.g. a parse failure → 400). */
LctlIrError *lctl_ir_error_from_gerror (const GError *error);

typedef enum
{
  LCTL_IR_EVENT_MESSAGE_START,
  LCTL_IR_EVENT_PART_START,
  LCTL_IR_EVENT_TEXT_DELTA,
  LCTL_IR_EVENT_TOOL_ARGS_DELTA,
  LCTL_IR_EVENT_THINKING_DELTA,
  LCTL_IR_EVENT_SIGNATURE_DELTA,
  LCTL_IR_EVENT_PART_STOP,
  LCTL_IR_EVENT_USAGE,
  LCTL_IR_EVENT_MESSAGE_STOP,
  LCTL_IR_EVENT_ERROR,
  LCTL_IR_EVENT_PING,
} LctlIrEventType;

/**
 * LctlIrEvent:
 * @type: What happened.
 * @index: The part index (PART_START, deltas, PART_STOP), counting from 0
 *   in the order parts start.
 * @part: PART_START: the part as known when it starts (kind; id and name
 *   of a tool call; whole content of REDACTED_THINKING, ENCRYPTED_REASONING
 *   and RAW parts; any leading text). Deltas append to it.
 * @text: Delta text (text, argument fragment, thinking, signature).
 * @id: MESSAGE_START message id.
 * @model: MESSAGE_START model.
 * @usage: MESSAGE_START, USAGE, MESSAGE_STOP: usage known so far.
 * @stop_reason: MESSAGE_STOP.
 * @stop_sequence: MESSAGE_STOP, when @stop_reason is STOP_SEQUENCE.
 * @error: ERROR.
 */
typedef struct
{
  LctlIrEventType  type;
  int              index;
  LctlIrPart      *part;
  char            *text;
  char            *id;
  char            *model;
  LctlIrUsage      usage;
  LctlIrStopReason stop_reason;
  char            *stop_sequence;
  LctlIrError     *error;
} LctlIrEvent;

LctlIrEvent *lctl_ir_event_new (LctlIrEventType type);
void         lctl_ir_event_free (LctlIrEvent *event);
/* A GPtrArray that frees its LctlIrEvent elements. */
GPtrArray *lctl_ir_event_array_new (void);

/**
 * lctl_ir_response_add_event:
 * @response: A response being assembled from a stream.
 * @event: The next event.
 *
 * Folds a stream event into @response, so a non-streaming client can be
 * served by an upstream that only streams. Returns %FALSE for an ERROR
 * event (the caller answers with it instead).
 */
gboolean lctl_ir_response_add_event (LctlIrResponse    *response,
                                     const LctlIrEvent *event);

/**
 * lctl_ir_response_to_events:
 * @response: A complete response.
 * @chunk_chars: Split text into deltas of about this many characters
 *   (0: one delta per part).
 *
 * The event stream that delivers @response: MESSAGE_START, per part
 * PART_START/deltas/PART_STOP, MESSAGE_STOP.
 *
 * Returns: (transfer full) (element-type LctlIrEvent): the events.
 */
GPtrArray *lctl_ir_response_to_events (const LctlIrResponse *response,
                                       unsigned              chunk_chars);

/**
 * lctl_ir_mock_response:
 * @request: The client's request.
 * @mock_text: A deployment's `mock_response`.
 *
 * The answer of a `mock_response` deployment: one text part, stop reason
 * end_turn, the request's model and an estimated usage. Serve it with
 * lctl_ir_response_to_events() for a stream.
 */
LctlIrResponse *lctl_ir_mock_response (const LctlIrRequest *request,
                                       const char          *mock_text);

/* Wire-independent names for logs and tests ("end_turn", "tool_use"…). */
const char *lctl_ir_stop_reason_to_string (LctlIrStopReason reason);
const char *lctl_ir_error_type_to_string (LctlIrErrorType type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrPart, lctl_ir_part_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrMessage, lctl_ir_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrTool, lctl_ir_tool_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrRequest, lctl_ir_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrResponse, lctl_ir_response_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrError, lctl_ir_error_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlIrEvent, lctl_ir_event_free)

G_END_DECLS
