/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>

#include "lctl-count-tokens.h"
#include "lctl-error.h"
#include "lctl-ir.h"

const char *
lctl_dialect_to_string (LctlDialect dialect)
{
  switch (dialect)
    {
    case LCTL_DIALECT_ANTHROPIC:
      return "anthropic";
    case LCTL_DIALECT_OPENAI_CHAT:
      return "openai-chat";
    case LCTL_DIALECT_RESPONSES:
      return "responses";
    case LCTL_DIALECT_GEMINI:
      return "gemini";
    case LCTL_DIALECT_NONE:
    default:
      return "none";
    }
}

LctlIrPart *
lctl_ir_part_new (LctlIrPartKind kind)
{
  LctlIrPart *part = g_new0 (LctlIrPart, 1);

  part->kind = kind;
  return part;
}

LctlIrPart *
lctl_ir_part_new_text (const char *text)
{
  LctlIrPart *part = lctl_ir_part_new (LCTL_IR_PART_TEXT);

  part->text = g_strdup (text ? text : "");
  return part;
}

LctlIrPart *
lctl_ir_part_copy (const LctlIrPart *part)
{
  LctlIrPart *copy;

  if (part == NULL)
    return NULL;

  copy = lctl_ir_part_new (part->kind);
  copy->text = g_strdup (part->text);
  copy->signature = g_strdup (part->signature);
  copy->media_type = g_strdup (part->media_type);
  copy->data = g_strdup (part->data);
  copy->url = g_strdup (part->url);
  copy->id = g_strdup (part->id);
  copy->name = g_strdup (part->name);
  copy->arguments = g_strdup (part->arguments);
  if (part->content != NULL)
    {
      copy->content = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_part_free);
      for (unsigned i = 0; i < part->content->len; i++)
        g_ptr_array_add (copy->content, lctl_ir_part_copy (part->content->pdata[i]));
    }
  copy->is_error = part->is_error;
  copy->cache_control = part->cache_control ? json_node_copy (part->cache_control) : NULL;
  copy->raw = part->raw ? json_node_copy (part->raw) : NULL;
  copy->raw_dialect = part->raw_dialect;
  copy->extra = part->extra ? json_object_ref (part->extra) : NULL;
  return copy;
}

void
lctl_ir_part_free (LctlIrPart *part)
{
  if (part == NULL)
    return;
  g_free (part->text);
  g_free (part->signature);
  g_free (part->media_type);
  g_free (part->data);
  g_free (part->url);
  g_free (part->id);
  g_free (part->name);
  g_free (part->arguments);
  g_clear_pointer (&part->content, g_ptr_array_unref);
  g_clear_pointer (&part->cache_control, json_node_unref);
  g_clear_pointer (&part->raw, json_node_unref);
  g_clear_pointer (&part->extra, json_object_unref);
  g_free (part);
}

char *
lctl_ir_part_tool_result_text (const LctlIrPart *part)
{
  GString *out;

  if (part->content == NULL)
    return g_strdup (part->text ? part->text : "");

  out = g_string_new (NULL);
  for (unsigned i = 0; i < part->content->len; i++)
    {
      const LctlIrPart *sub = part->content->pdata[i];

      if (sub->kind != LCTL_IR_PART_TEXT || sub->text == NULL)
        continue;
      if (out->len > 0)
        g_string_append_c (out, '\n');
      g_string_append (out, sub->text);
    }
  return g_string_free (out, FALSE);
}

LctlIrMessage *
lctl_ir_message_new (LctlIrRole role)
{
  LctlIrMessage *message = g_new0 (LctlIrMessage, 1);

  message->role = role;
  message->parts = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_part_free);
  return message;
}

void
lctl_ir_message_free (LctlIrMessage *message)
{
  if (message == NULL)
    return;
  g_ptr_array_unref (message->parts);
  g_free (message->name);
  g_clear_pointer (&message->extra, json_object_unref);
  g_free (message);
}

LctlIrTool *
lctl_ir_tool_new (void)
{
  LctlIrTool *tool = g_new0 (LctlIrTool, 1);

  tool->strict = -1;
  return tool;
}

void
lctl_ir_tool_free (LctlIrTool *tool)
{
  if (tool == NULL)
    return;
  g_free (tool->type);
  g_free (tool->name);
  g_free (tool->description);
  g_clear_pointer (&tool->parameters, json_node_unref);
  g_clear_pointer (&tool->cache_control, json_node_unref);
  g_clear_pointer (&tool->raw, json_node_unref);
  g_clear_pointer (&tool->extra, json_object_unref);
  g_free (tool);
}

LctlIrRequest *
lctl_ir_request_new (LctlDialect dialect)
{
  LctlIrRequest *request = g_new0 (LctlIrRequest, 1);

  request->dialect = dialect;
  request->system = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_part_free);
  request->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_message_free);
  request->tools = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_tool_free);
  request->tool_choice.parallel = -1;
  request->temperature = NAN;
  request->top_p = NAN;
  request->top_k = -1;
  request->response_format.strict = -1;
  request->extras = json_object_new ();
  return request;
}

void
lctl_ir_request_free (LctlIrRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->model);
  g_ptr_array_unref (request->system);
  g_ptr_array_unref (request->messages);
  g_ptr_array_unref (request->tools);
  g_free (request->tool_choice.name);
  g_free (request->max_tokens_field);
  g_strfreev (request->stop);
  g_free (request->thinking.effort);
  g_free (request->response_format.name);
  g_clear_pointer (&request->response_format.schema, json_node_unref);
  g_free (request->user);
  g_clear_pointer (&request->extras, json_object_unref);
  g_clear_pointer (&request->upstream_params, json_object_unref);
  g_free (request);
}

char *
lctl_ir_request_system_text (const LctlIrRequest *request)
{
  GString *out = g_string_new (NULL);

  for (unsigned i = 0; i < request->system->len; i++)
    {
      const LctlIrPart *part = request->system->pdata[i];

      if (part->kind != LCTL_IR_PART_TEXT || part->text == NULL)
        continue;
      if (out->len > 0)
        g_string_append (out, "\n\n");
      g_string_append (out, part->text);
    }
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Keys of litellm_params that configure the proxy or the provider, never
 * the upstream request body. */
static const char *const proxy_setting_keys[] = {
  "model",
  "api_key",
  "api_base",
  "api_version",
  "base_url",
  "timeout",
  "stream_timeout",
  "weight",
  "mock_response",
  "extra_headers",
  "headers",
  "rpm",
  "tpm",
  "max_retries",
  "num_retries",
  "organization",
  "custom_llm_provider",
  "drop_params",
  "input_cost_per_token",
  "output_cost_per_token",
  "max_parallel_requests",
  "order",
  "region_name",
  "vertex_project",
  "vertex_location",
  "use_in_pass_through",
  "merge_reasoning_content_in_choices",
  "additional_drop_params",
  "cooldown_time",
  "ssl_verify",
  "tags",
  "litellm_credential_name",
  "auto_router_config",
  "mock_testing_fallbacks",
  /* Ours: the idle timeout between stream events. */
  "stream_idle_timeout",
  /* Not standard LiteLLM params, seen in hand-written configs (the seed's
   * Z.AI entries, PROTOCOLS §7): model capabilities, not body fields. */
  "input",
  "reasoning",
};

gboolean
lctl_ir_param_is_proxy_setting (const char *key)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (proxy_setting_keys); i++)
    if (g_str_equal (key, proxy_setting_keys[i]))
      return TRUE;
  return FALSE;
}

static void
apply_thinking_default (LctlIrRequest *request,
                        JsonNode      *node)
{
  JsonObject *object;
  const char *type;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return;
  object = json_node_get_object (node);
  type = json_object_get_string_member_with_default (object, "type", "");
  if (g_str_equal (type, "enabled"))
    request->thinking.mode = LCTL_IR_THINKING_ENABLED;
  else if (g_str_equal (type, "adaptive"))
    request->thinking.mode = LCTL_IR_THINKING_ADAPTIVE;
  else if (g_str_equal (type, "disabled"))
    request->thinking.mode = LCTL_IR_THINKING_DISABLED;
  else
    return;
  request->thinking.budget_tokens = json_object_get_int_member_with_default (object, "budget_tokens", 0);
}

void
lctl_ir_request_apply_defaults (LctlIrRequest *request,
                                JsonObject    *params)
{
  g_autoptr (GList) members = NULL;

  if (params == NULL)
    return;

  members = json_object_get_members (params);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode   *value = json_object_get_member (params, key);
      GType       vtype = JSON_NODE_HOLDS_VALUE (value) ? json_node_get_value_type (value) : G_TYPE_INVALID;
      gboolean    is_number = vtype == G_TYPE_INT64 || vtype == G_TYPE_DOUBLE;

      if (lctl_ir_param_is_proxy_setting (key))
        continue;

      if (g_str_equal (key, "max_tokens") || g_str_equal (key, "max_completion_tokens") || g_str_equal (key, "max_output_tokens"))
        {
          if (request->max_tokens == 0 && is_number)
            request->max_tokens = (gint64) json_node_get_double (value);
        }
      else if (g_str_equal (key, "temperature"))
        {
          if (isnan (request->temperature) && is_number)
            request->temperature = json_node_get_double (value);
        }
      else if (g_str_equal (key, "top_p"))
        {
          if (isnan (request->top_p) && is_number)
            request->top_p = json_node_get_double (value);
        }
      else if (g_str_equal (key, "top_k"))
        {
          if (request->top_k < 0 && is_number)
            request->top_k = (int) json_node_get_double (value);
        }
      else if (g_str_equal (key, "thinking"))
        {
          if (request->thinking.mode == LCTL_IR_THINKING_UNSET)
            apply_thinking_default (request, value);
        }
      else if (g_str_equal (key, "reasoning_effort"))
        {
          if (request->thinking.mode == LCTL_IR_THINKING_UNSET && vtype == G_TYPE_STRING)
            {
              const char *effort = json_node_get_string (value);

              request->thinking.mode = g_str_equal (effort, "none") ? LCTL_IR_THINKING_DISABLED : LCTL_IR_THINKING_ENABLED;
              g_free (request->thinking.effort);
              request->thinking.effort = g_strdup (effort);
            }
        }
      else if (g_str_equal (key, "user"))
        {
          if (request->user == NULL && vtype == G_TYPE_STRING)
            request->user = g_strdup (json_node_get_string (value));
        }
      else if (g_str_equal (key, "stop") || g_str_equal (key, "stop_sequences"))
        {
          if (request->stop == NULL && vtype == G_TYPE_STRING)
            {
              request->stop = g_new0 (char *, 2);
              request->stop[0] = g_strdup (json_node_get_string (value));
            }
          else if (request->stop == NULL && JSON_NODE_HOLDS_ARRAY (value))
            {
              JsonArray *array = json_node_get_array (value);
              GPtrArray *strv = g_ptr_array_new ();

              for (unsigned i = 0; i < json_array_get_length (array); i++)
                {
                  JsonNode *element = json_array_get_element (array, i);

                  if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
                    g_ptr_array_add (strv, g_strdup (json_node_get_string (element)));
                }
              g_ptr_array_add (strv, NULL);
              request->stop = (char **) g_ptr_array_free (strv, FALSE);
            }
        }
      else
        {
          if (request->upstream_params == NULL)
            request->upstream_params = json_object_new ();
          if (!json_object_has_member (request->upstream_params, key))
            json_object_set_member (request->upstream_params, key, json_node_copy (value));
        }
    }
}

void
lctl_ir_usage_init (LctlIrUsage *usage)
{
  usage->input_tokens = -1;
  usage->output_tokens = -1;
  usage->cache_read_tokens = -1;
  usage->cache_creation_tokens = -1;
  usage->reasoning_tokens = -1;
}

void
lctl_ir_usage_merge (LctlIrUsage       *into,
                     const LctlIrUsage *from)
{
  if (from->input_tokens >= 0)
    into->input_tokens = from->input_tokens;
  if (from->output_tokens >= 0)
    into->output_tokens = from->output_tokens;
  if (from->cache_read_tokens >= 0)
    into->cache_read_tokens = from->cache_read_tokens;
  if (from->cache_creation_tokens >= 0)
    into->cache_creation_tokens = from->cache_creation_tokens;
  if (from->reasoning_tokens >= 0)
    into->reasoning_tokens = from->reasoning_tokens;
}

gint64
lctl_ir_usage_prompt_total (const LctlIrUsage *usage)
{
  return MAX (usage->input_tokens, 0) + MAX (usage->cache_read_tokens, 0) + MAX (usage->cache_creation_tokens, 0);
}

LctlIrResponse *
lctl_ir_response_new (void)
{
  LctlIrResponse *response = g_new0 (LctlIrResponse, 1);

  response->parts = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_part_free);
  lctl_ir_usage_init (&response->usage);
  return response;
}

void
lctl_ir_response_free (LctlIrResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->id);
  g_free (response->model);
  g_ptr_array_unref (response->parts);
  g_free (response->stop_sequence);
  g_clear_pointer (&response->extra, json_object_unref);
  g_free (response);
}

LctlIrError *
lctl_ir_error_new (LctlIrErrorType type,
                   unsigned        status,
                   const char     *message)
{
  LctlIrError *error = g_new0 (LctlIrError, 1);

  error->type = type;
  error->status = status ? status : lctl_ir_error_type_default_status (type);
  error->message = g_strdup (message ? message : lctl_ir_error_type_to_string (type));
  return error;
}

LctlIrError *
lctl_ir_error_copy (const LctlIrError *error)
{
  LctlIrError *copy = lctl_ir_error_new (error->type, error->status, error->message);

  copy->param = g_strdup (error->param);
  copy->code = g_strdup (error->code);
  copy->retry_after = error->retry_after;
  return copy;
}

void
lctl_ir_error_free (LctlIrError *error)
{
  if (error == NULL)
    return;
  g_free (error->message);
  g_free (error->param);
  g_free (error->code);
  g_free (error);
}

unsigned
lctl_ir_error_type_default_status (LctlIrErrorType type)
{
  switch (type)
    {
    case LCTL_IR_ERROR_INVALID_REQUEST:
    case LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED:
    case LCTL_IR_ERROR_CONTENT_POLICY:
      return 400;
    case LCTL_IR_ERROR_AUTHENTICATION:
      return 401;
    case LCTL_IR_ERROR_BILLING:
      return 402;
    case LCTL_IR_ERROR_PERMISSION:
      return 403;
    case LCTL_IR_ERROR_NOT_FOUND:
      return 404;
    case LCTL_IR_ERROR_REQUEST_TOO_LARGE:
      return 413;
    case LCTL_IR_ERROR_RATE_LIMIT:
      return 429;
    case LCTL_IR_ERROR_OVERLOADED:
      return 529;
    case LCTL_IR_ERROR_TIMEOUT:
      return 504;
    case LCTL_IR_ERROR_API_ERROR:
    default:
      return 500;
    }
}

LctlIrErrorType
lctl_ir_error_type_from_status (unsigned status)
{
  switch (status)
    {
    case 400:
    case 422:
      return LCTL_IR_ERROR_INVALID_REQUEST;
    case 401:
      return LCTL_IR_ERROR_AUTHENTICATION;
    case 402:
      return LCTL_IR_ERROR_BILLING;
    case 403:
      return LCTL_IR_ERROR_PERMISSION;
    case 404:
      return LCTL_IR_ERROR_NOT_FOUND;
    case 408:
    case 504:
      return LCTL_IR_ERROR_TIMEOUT;
    case 413:
      return LCTL_IR_ERROR_REQUEST_TOO_LARGE;
    case 429:
      return LCTL_IR_ERROR_RATE_LIMIT;
    case 503:
    case 529:
      return LCTL_IR_ERROR_OVERLOADED;
    default:
      if (status >= 400 && status < 500)
        return LCTL_IR_ERROR_INVALID_REQUEST;
      return LCTL_IR_ERROR_API_ERROR;
    }
}

LctlIrError *
lctl_ir_error_from_gerror (const GError *error)
{
  LctlIrErrorType type = LCTL_IR_ERROR_API_ERROR;

  if (error->domain == LCTL_ERROR)
    {
      switch ((LctlError) error->code)
        {
        case LCTL_ERROR_INVALID_ARGUMENT:
        case LCTL_ERROR_UNSUPPORTED:
          type = LCTL_IR_ERROR_INVALID_REQUEST;
          break;
        case LCTL_ERROR_NOT_FOUND:
          type = LCTL_IR_ERROR_NOT_FOUND;
          break;
        case LCTL_ERROR_UNAUTHORIZED:
          type = LCTL_IR_ERROR_AUTHENTICATION;
          break;
        case LCTL_ERROR_TIMEOUT:
          type = LCTL_IR_ERROR_TIMEOUT;
          break;
        default:
          break;
        }
    }
  else if (error->domain == JSON_PARSER_ERROR)
    type = LCTL_IR_ERROR_INVALID_REQUEST;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    type = LCTL_IR_ERROR_TIMEOUT;

  return lctl_ir_error_new (type, 0, error->message);
}

LctlIrEvent *
lctl_ir_event_new (LctlIrEventType type)
{
  LctlIrEvent *event = g_new0 (LctlIrEvent, 1);

  event->type = type;
  lctl_ir_usage_init (&event->usage);
  return event;
}

void
lctl_ir_event_free (LctlIrEvent *event)
{
  if (event == NULL)
    return;
  g_clear_pointer (&event->part, lctl_ir_part_free);
  g_free (event->text);
  g_free (event->id);
  g_free (event->model);
  g_free (event->stop_sequence);
  g_clear_pointer (&event->error, lctl_ir_error_free);
  g_free (event);
}

GPtrArray *
lctl_ir_event_array_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_event_free);
}

static void
append_owned (char      **field,
              const char *text)
{
  char *joined;

  if (text == NULL)
    return;
  joined = g_strconcat (*field ? *field : "", text, NULL);
  g_free (*field);
  *field = joined;
}

gboolean
lctl_ir_response_add_event (LctlIrResponse    *response,
                            const LctlIrEvent *event)
{
  LctlIrPart *part = NULL;

  if (event->index >= 0 && (unsigned) event->index < response->parts->len)
    part = response->parts->pdata[event->index];

  switch (event->type)
    {
    case LCTL_IR_EVENT_MESSAGE_START:
      if (event->id != NULL)
        {
          g_free (response->id);
          response->id = g_strdup (event->id);
        }
      if (event->model != NULL)
        {
          g_free (response->model);
          response->model = g_strdup (event->model);
        }
      lctl_ir_usage_merge (&response->usage, &event->usage);
      break;
    case LCTL_IR_EVENT_PART_START:
      /* Parts are numbered in start order; pad so a gap cannot misplace one. */
      while (response->parts->len < (unsigned) MAX (event->index, 0))
        g_ptr_array_add (response->parts, lctl_ir_part_new_text (""));
      part = event->part ? lctl_ir_part_copy (event->part) : lctl_ir_part_new_text ("");
      if (part->kind == LCTL_IR_PART_TOOL_CALL && part->arguments == NULL)
        part->arguments = g_strdup ("");
      if (part->kind == LCTL_IR_PART_THINKING && part->text == NULL)
        part->text = g_strdup ("");
      g_ptr_array_add (response->parts, part);
      break;
    case LCTL_IR_EVENT_TEXT_DELTA:
    case LCTL_IR_EVENT_THINKING_DELTA:
      if (part != NULL)
        append_owned (&part->text, event->text);
      break;
    case LCTL_IR_EVENT_TOOL_ARGS_DELTA:
      if (part != NULL)
        append_owned (&part->arguments, event->text);
      break;
    case LCTL_IR_EVENT_SIGNATURE_DELTA:
      if (part != NULL)
        append_owned (&part->signature, event->text);
      break;
    case LCTL_IR_EVENT_USAGE:
      lctl_ir_usage_merge (&response->usage, &event->usage);
      break;
    case LCTL_IR_EVENT_MESSAGE_STOP:
      lctl_ir_usage_merge (&response->usage, &event->usage);
      response->stop_reason = event->stop_reason;
      g_free (response->stop_sequence);
      response->stop_sequence = g_strdup (event->stop_sequence);
      break;
    case LCTL_IR_EVENT_ERROR:
      return FALSE;
    case LCTL_IR_EVENT_PART_STOP:
    case LCTL_IR_EVENT_PING:
    default:
      break;
    }

  /* A tool call whose arguments never came is an empty object, not "". */
  if (event->type == LCTL_IR_EVENT_PART_STOP && part != NULL && part->kind == LCTL_IR_PART_TOOL_CALL && (part->arguments == NULL || *part->arguments == '\0'))
    {
      g_free (part->arguments);
      part->arguments = g_strdup ("{}");
    }
  return TRUE;
}

/* Splits @text into pieces of about @chunk bytes without cutting a UTF-8
 * sequence. */
static void
add_text_deltas (GPtrArray      *events,
                 LctlIrEventType type,
                 int             index,
                 const char     *text,
                 unsigned        chunk)
{
  const char *p = text;

  if (text == NULL || *text == '\0')
    return;
  while (*p != '\0')
    {
      const char  *end = p;
      LctlIrEvent *event;

      if (chunk == 0)
        end = p + strlen (p);
      else
        {
          unsigned n = 0;

          while (*end != '\0' && n < chunk)
            {
              end = g_utf8_next_char (end);
              n++;
            }
        }
      event = lctl_ir_event_new (type);
      event->index = index;
      event->text = g_strndup (p, end - p);
      g_ptr_array_add (events, event);
      p = end;
    }
}

GPtrArray *
lctl_ir_response_to_events (const LctlIrResponse *response,
                            unsigned              chunk_chars)
{
  GPtrArray   *events = lctl_ir_event_array_new ();
  LctlIrEvent *event;
  LctlIrUsage  start_usage = response->usage;

  event = lctl_ir_event_new (LCTL_IR_EVENT_MESSAGE_START);
  event->id = g_strdup (response->id);
  event->model = g_strdup (response->model);
  /* As Anthropic does: the start reports input, the stop reports output. */
  start_usage.output_tokens = response->usage.output_tokens >= 0 ? 1 : -1;
  start_usage.reasoning_tokens = -1;
  event->usage = start_usage;
  g_ptr_array_add (events, event);

  for (unsigned i = 0; i < response->parts->len; i++)
    {
      const LctlIrPart *part = response->parts->pdata[i];
      LctlIrPart       *head = lctl_ir_part_copy (part);

      event = lctl_ir_event_new (LCTL_IR_EVENT_PART_START);
      event->index = i;
      event->part = head;
      switch (part->kind)
        {
        case LCTL_IR_PART_TEXT:
          g_clear_pointer (&head->text, g_free);
          g_ptr_array_add (events, event);
          add_text_deltas (events, LCTL_IR_EVENT_TEXT_DELTA, i, part->text, chunk_chars);
          break;
        case LCTL_IR_PART_THINKING:
          g_clear_pointer (&head->text, g_free);
          g_clear_pointer (&head->signature, g_free);
          g_ptr_array_add (events, event);
          add_text_deltas (events, LCTL_IR_EVENT_THINKING_DELTA, i, part->text, chunk_chars);
          add_text_deltas (events, LCTL_IR_EVENT_SIGNATURE_DELTA, i, part->signature, 0);
          break;
        case LCTL_IR_PART_TOOL_CALL:
          g_clear_pointer (&head->arguments, g_free);
          g_ptr_array_add (events, event);
          add_text_deltas (events, LCTL_IR_EVENT_TOOL_ARGS_DELTA, i, part->arguments, chunk_chars);
          break;
        default:
          g_ptr_array_add (events, event);
          break;
        }
      event = lctl_ir_event_new (LCTL_IR_EVENT_PART_STOP);
      event->index = i;
      g_ptr_array_add (events, event);
    }

  event = lctl_ir_event_new (LCTL_IR_EVENT_MESSAGE_STOP);
  event->index = -1;
  event->stop_reason = response->stop_reason != LCTL_IR_STOP_NONE ? response->stop_reason : LCTL_IR_STOP_END_TURN;
  event->stop_sequence = g_strdup (response->stop_sequence);
  event->usage = response->usage;
  g_ptr_array_add (events, event);
  return events;
}

LctlIrResponse *
lctl_ir_mock_response (const LctlIrRequest *request,
                       const char          *mock_text)
{
  LctlIrResponse  *response = lctl_ir_response_new ();
  g_autofree char *uuid = g_uuid_string_random ();
  GString         *id = g_string_new ("mock_");

  /* An id of the shape SDKs expect: letters and digits after a prefix. */
  for (const char *p = uuid; *p != '\0'; p++)
    if (*p != '-')
      g_string_append_c (id, *p);
  response->dialect = LCTL_DIALECT_NONE;
  response->id = g_string_free (id, FALSE);
  response->model = g_strdup (request && request->model ? request->model : "mock");
  g_ptr_array_add (response->parts, lctl_ir_part_new_text (mock_text ? mock_text : ""));
  response->stop_reason = LCTL_IR_STOP_END_TURN;
  response->usage.input_tokens = request ? lctl_count_tokens_request (request) : 0;
  response->usage.output_tokens = MAX (1, lctl_count_tokens_text (mock_text));
  response->usage.cache_read_tokens = 0;
  response->usage.cache_creation_tokens = 0;
  return response;
}

const char *
lctl_ir_stop_reason_to_string (LctlIrStopReason reason)
{
  static const char *const names[] = {
    "none",
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "content_filter",
    "pause",
    "refusal",
    "context_window",
    "error",
  };

  if ((unsigned) reason < G_N_ELEMENTS (names))
    return names[reason];
  return "none";
}

const char *
lctl_ir_error_type_to_string (LctlIrErrorType type)
{
  static const char *const names[] = {
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "request_too_large",
    "rate_limit",
    "overloaded",
    "api_error",
    "timeout",
    "context_window_exceeded",
    "content_policy",
    "billing",
  };

  if ((unsigned) type < G_N_ELEMENTS (names))
    return names[type];
  return "api_error";
}
