/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lctl-json.h"
#include "lctl-dialect-openai-chat.h"
#include "lctl-sse.h"

static const char *const modeled_request_fields[] = {
  "model", "messages", "max_tokens", "max_completion_tokens", "temperature",
  "top_p", "top_k", "stop", "seed", "user", "stream", "stream_options",
  "tools", "tool_choice", "parallel_tool_calls", "reasoning_effort",
  "response_format", NULL
};

const char *
lctl_openai_chat_stop_reason_to_string (LctlIrStopReason reason)
{
  switch (reason)
    {
    case LCTL_IR_STOP_MAX_TOKENS:
    case LCTL_IR_STOP_CONTEXT_WINDOW:
      return "length";
    case LCTL_IR_STOP_TOOL_USE:
      return "tool_calls";
    case LCTL_IR_STOP_CONTENT_FILTER:
    case LCTL_IR_STOP_REFUSAL:
      return "content_filter";
    case LCTL_IR_STOP_NONE:
    case LCTL_IR_STOP_END_TURN:
    case LCTL_IR_STOP_STOP_SEQUENCE:
    case LCTL_IR_STOP_PAUSE:
    case LCTL_IR_STOP_ERROR:
    default:
      return "stop";
    }
}

LctlIrStopReason
lctl_openai_chat_stop_reason_from_string (const char *reason)
{
  if (reason == NULL)
    return LCTL_IR_STOP_NONE;
  if (g_str_equal (reason, "stop"))
    return LCTL_IR_STOP_END_TURN;
  if (g_str_equal (reason, "length"))
    return LCTL_IR_STOP_MAX_TOKENS;
  if (g_str_equal (reason, "tool_calls") || g_str_equal (reason, "function_call"))
    return LCTL_IR_STOP_TOOL_USE;
  if (g_str_equal (reason, "content_filter"))
    return LCTL_IR_STOP_CONTENT_FILTER;
  return LCTL_IR_STOP_END_TURN;
}

const char *
lctl_openai_chat_effort_for_thinking (const LctlIrThinking *thinking)
{
  switch (thinking->mode)
    {
    case LCTL_IR_THINKING_ENABLED:
      if (thinking->budget_tokens > 0)
        {
          if (thinking->budget_tokens <= 4096)
            return "low";
          if (thinking->budget_tokens <= 16384)
            return "medium";
          return "high";
        }
      G_GNUC_FALLTHROUGH;
    case LCTL_IR_THINKING_ADAPTIVE:
      if (thinking->effort == NULL)
        return thinking->mode == LCTL_IR_THINKING_ENABLED ? "medium" : NULL;
      /* Anthropic's levels above high have no OpenAI name. */
      if (g_str_equal (thinking->effort, "max") || g_str_equal (thinking->effort, "xhigh"))
        return "high";
      return thinking->effort;
    case LCTL_IR_THINKING_DISABLED:
    case LCTL_IR_THINKING_UNSET:
    default:
      return NULL;
    }
}

/* ---- Parsing ---- */

static gboolean
is_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

/* Content as a string or an array of parts (Qwen sends arrays
 * everywhere). */
static gboolean
parse_content (JsonNode   *content,
               GPtrArray  *parts,
               const char *where,
               GError    **error)
{
  JsonArray *array;

  if (content == NULL || JSON_NODE_HOLDS_NULL (content))
    return TRUE;
  if (is_string (content))
    {
      g_ptr_array_add (parts, lctl_ir_part_new_text (json_node_get_string (content)));
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (content))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s: must be a string or an array of content parts", where);
      return FALSE;
    }
  array = json_node_get_array (content);
  for (unsigned i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode   *element = json_array_get_element (array, i);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL;
      const char *type = lctl_json_string (object, "type");

      if (is_string (element))
        {
          g_ptr_array_add (parts, lctl_ir_part_new_text (json_node_get_string (element)));
          continue;
        }
      if (type == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s[%u].type: required string", where, i);
          return FALSE;
        }
      if (g_str_equal (type, "text") || g_str_equal (type, "input_text") || g_str_equal (type, "output_text"))
        {
          const char *text = lctl_json_string (object, "text");

          if (text == NULL)
            {
              g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s[%u].text: required string", where, i);
              return FALSE;
            }
          g_ptr_array_add (parts, lctl_ir_part_new_text (text));
        }
      else if (g_str_equal (type, "image_url"))
        {
          JsonNode   *image = lctl_json_member (object, "image_url");
          const char *url = is_string (image) ? json_node_get_string (image) : lctl_json_string (lctl_json_object (object, "image_url"), "url");
          const char *detail = lctl_json_string (lctl_json_object (object, "image_url"), "detail");
          LctlIrPart *part;

          if (url == NULL)
            {
              g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s[%u].image_url.url: required string", where, i);
              return FALSE;
            }
          part = lctl_ir_part_new (LCTL_IR_PART_IMAGE);
          if (!lctl_dialect_parse_data_url (url, &part->media_type, &part->data))
            part->url = g_strdup (url);
          if (detail != NULL)
            {
              part->extra = json_object_new ();
              json_object_set_string_member (part->extra, "detail", detail);
            }
          g_ptr_array_add (parts, part);
        }
      else if (g_str_equal (type, "refusal"))
        g_ptr_array_add (parts, lctl_ir_part_new_text (lctl_json_string (object, "refusal")));
      else
        {
          /* input_audio, file…: kept for an OpenAI upstream only. */
          LctlIrPart *part = lctl_ir_part_new (LCTL_IR_PART_RAW);

          part->raw = json_node_copy (element);
          part->raw_dialect = LCTL_DIALECT_OPENAI_CHAT;
          g_ptr_array_add (parts, part);
        }
    }
  return TRUE;
}

static gboolean
parse_tool_calls (JsonArray     *calls,
                  LctlIrMessage *message,
                  unsigned       index,
                  GError       **error)
{
  for (unsigned j = 0; j < json_array_get_length (calls); j++)
    {
      JsonObject *call = lctl_json_array_object (calls, j);
      JsonObject *function = lctl_json_object (call, "function");
      JsonNode   *arguments = lctl_json_member (function, "arguments");
      LctlIrPart *part;

      if (function == NULL || lctl_json_string (function, "name") == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages[%u].tool_calls[%u].function.name: required string", index, j);
          return FALSE;
        }
      part = lctl_ir_part_new (LCTL_IR_PART_TOOL_CALL);
      part->id = g_strdup (lctl_json_string (call, "id"));
      if (part->id == NULL)
        part->id = g_strdup_printf ("call_%u_%u", index, j);
      part->name = g_strdup (lctl_json_string (function, "name"));
      if (is_string (arguments))
        part->arguments = g_strdup (json_node_get_string (arguments));
      else if (arguments != NULL)
        part->arguments = lctl_json_to_string (arguments);
      else
        part->arguments = g_strdup ("{}");
      g_ptr_array_add (message->parts, part);
    }
  return TRUE;
}

static gboolean
parse_messages (JsonArray     *messages,
                LctlIrRequest *request,
                GError       **error)
{
  gboolean leading = TRUE;

  for (unsigned i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject      *object = lctl_json_array_object (messages, i);
      const char      *role = lctl_json_string (object, "role");
      JsonNode        *content = lctl_json_member (object, "content");
      g_autofree char *where = g_strdup_printf ("messages[%u].content", i);
      LctlIrMessage   *message;

      if (object == NULL || role == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages[%u].role: required string", i);
          return FALSE;
        }

      if (g_str_equal (role, "system") || g_str_equal (role, "developer"))
        {
          if (leading)
            {
              if (!parse_content (content, request->system, where, error))
                return FALSE;
              continue;
            }
          message = lctl_ir_message_new (LCTL_IR_ROLE_SYSTEM);
          g_ptr_array_add (request->messages, message);
          if (!parse_content (content, message->parts, where, error))
            return FALSE;
          continue;
        }
      leading = FALSE;

      if (g_str_equal (role, "user"))
        {
          message = lctl_ir_message_new (LCTL_IR_ROLE_USER);
          g_ptr_array_add (request->messages, message);
          if (!parse_content (content, message->parts, where, error))
            return FALSE;
        }
      else if (g_str_equal (role, "assistant"))
        {
          const char *reasoning = lctl_json_string (object, "reasoning_content");
          JsonArray  *calls = lctl_json_array (object, "tool_calls");

          if (reasoning == NULL)
            reasoning = lctl_json_string (object, "reasoning");
          message = lctl_ir_message_new (LCTL_IR_ROLE_ASSISTANT);
          g_ptr_array_add (request->messages, message);
          if (reasoning != NULL && *reasoning != '\0')
            {
              LctlIrPart *part = lctl_ir_part_new (LCTL_IR_PART_THINKING);

              part->text = g_strdup (reasoning);
              g_ptr_array_add (message->parts, part);
            }
          if (!parse_content (content, message->parts, where, error))
            return FALSE;
          if (calls != NULL && !parse_tool_calls (calls, message, i, error))
            return FALSE;
        }
      else if (g_str_equal (role, "tool") || g_str_equal (role, "function"))
        {
          LctlIrPart *part = lctl_ir_part_new (LCTL_IR_PART_TOOL_RESULT);

          message = lctl_ir_message_new (LCTL_IR_ROLE_TOOL);
          g_ptr_array_add (request->messages, message);
          g_ptr_array_add (message->parts, part);
          part->id = g_strdup (lctl_json_string (object, "tool_call_id"));
          part->name = g_strdup (lctl_json_string (object, "name"));
          if (part->id == NULL && g_str_equal (role, "tool"))
            {
              g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages[%u].tool_call_id: required string", i);
              return FALSE;
            }
          if (part->id == NULL)
            part->id = g_strdup (part->name);
          if (content == NULL || is_string (content))
            part->text = g_strdup (content ? json_node_get_string (content) : "");
          else
            {
              part->content = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_part_free);
              if (!parse_content (content, part->content, where, error))
                return FALSE;
            }
        }
      else
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages[%u].role: unknown role “%s”", i, role);
          return FALSE;
        }
      message->name = g_strdup (lctl_json_string (object, "name"));
    }
  return TRUE;
}

static gboolean
parse_tools (JsonObject    *root,
             LctlIrRequest *request,
             GError       **error)
{
  JsonNode  *node = lctl_json_member (root, "tools");
  JsonArray *tools;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "tools: must be an array");
      return FALSE;
    }
  tools = json_node_get_array (node);
  for (unsigned i = 0; i < json_array_get_length (tools); i++)
    {
      JsonObject *object = lctl_json_array_object (tools, i);
      const char *type = lctl_json_string (object, "type");
      JsonObject *function = lctl_json_object (object, "function");
      LctlIrTool *tool;

      if (object == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "tools[%u]: must be an object", i);
          return FALSE;
        }
      tool = lctl_ir_tool_new ();
      g_ptr_array_add (request->tools, tool);
      if (type != NULL && !g_str_equal (type, "function"))
        {
          tool->type = g_strdup (type);
          tool->name = g_strdup (lctl_json_string (object, "name"));
          tool->raw = json_node_copy (json_array_get_element (tools, i));
          tool->raw_dialect = LCTL_DIALECT_OPENAI_CHAT;
          continue;
        }
      if (lctl_json_string (function, "name") == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "tools[%u].function.name: required string", i);
          return FALSE;
        }
      tool->name = g_strdup (lctl_json_string (function, "name"));
      tool->description = g_strdup (lctl_json_string (function, "description"));
      if (lctl_json_object (function, "parameters") != NULL)
        tool->parameters = json_node_copy (lctl_json_member (function, "parameters"));
      tool->strict = lctl_json_bool (function, "strict");
    }
  return TRUE;
}

static void
parse_tool_choice (JsonObject    *root,
                   LctlIrRequest *request)
{
  JsonNode *node = lctl_json_member (root, "tool_choice");

  if (is_string (node))
    {
      const char *choice = json_node_get_string (node);

      if (g_str_equal (choice, "auto"))
        request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_AUTO;
      else if (g_str_equal (choice, "required"))
        request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_ANY;
      else if (g_str_equal (choice, "none"))
        request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_NONE;
    }
  else if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      const char *name = lctl_json_string (lctl_json_object (object, "function"), "name");

      if (name != NULL)
        {
          request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_TOOL;
          request->tool_choice.name = g_strdup (name);
        }
      else
        request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_AUTO;
    }
  request->tool_choice.parallel = lctl_json_bool (root, "parallel_tool_calls");
}

static void
parse_response_format (JsonObject    *root,
                       LctlIrRequest *request)
{
  JsonObject *format = lctl_json_object (root, "response_format");
  const char *type = lctl_json_string (format, "type");

  if (type == NULL)
    return;
  if (g_str_equal (type, "json_object"))
    request->response_format.type = LCTL_IR_FORMAT_JSON_OBJECT;
  else if (g_str_equal (type, "text"))
    request->response_format.type = LCTL_IR_FORMAT_TEXT;
  else if (g_str_equal (type, "json_schema"))
    {
      JsonObject *schema = lctl_json_object (format, "json_schema");

      request->response_format.type = LCTL_IR_FORMAT_JSON_SCHEMA;
      request->response_format.name = g_strdup (lctl_json_string (schema, "name"));
      if (lctl_json_member (schema, "schema") != NULL)
        request->response_format.schema = json_node_copy (lctl_json_member (schema, "schema"));
      request->response_format.strict = lctl_json_bool (schema, "strict");
    }
}

LctlIrRequest *
lctl_openai_chat_parse_request (JsonNode *root_node,
                                GError  **error)
{
  g_autoptr (LctlIrRequest) request = lctl_ir_request_new (LCTL_DIALECT_OPENAI_CHAT);
  JsonObject *root = json_node_get_object (root_node);
  JsonArray  *messages = lctl_json_array (root, "messages");
  JsonNode   *stop = lctl_json_member (root, "stop");
  const char *effort = lctl_json_string (root, "reasoning_effort");
  g_autoptr (GList) members = NULL;
  double number;

  request->model = g_strdup (lctl_json_string (root, "model"));
  if (request->model == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "model: required string");
      return NULL;
    }
  if (messages == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages: required array");
      return NULL;
    }
  if (!parse_messages (messages, request, error))
    return NULL;
  if (!parse_tools (root, request, error))
    return NULL;
  parse_tool_choice (root, request);
  parse_response_format (root, request);

  if (lctl_json_int (root, "max_completion_tokens", &request->max_tokens))
    request->max_tokens_field = g_strdup ("max_completion_tokens");
  else if (lctl_json_int (root, "max_tokens", &request->max_tokens))
    request->max_tokens_field = g_strdup ("max_tokens");
  if (lctl_json_number (root, "temperature", &number))
    request->temperature = number;
  if (lctl_json_number (root, "top_p", &number))
    request->top_p = number;
  if (lctl_json_number (root, "top_k", &number))
    request->top_k = (int) CLAMP (number, 0, G_MAXINT);
  if (lctl_json_int (root, "seed", &request->seed))
    request->has_seed = TRUE;
  if (is_string (stop))
    {
      request->stop = g_new0 (char *, 2);
      request->stop[0] = g_strdup (json_node_get_string (stop));
    }
  else if (stop != NULL && JSON_NODE_HOLDS_ARRAY (stop))
    {
      JsonArray *array = json_node_get_array (stop);
      GPtrArray *strv = g_ptr_array_new ();

      for (unsigned i = 0; i < json_array_get_length (array); i++)
        if (is_string (json_array_get_element (array, i)))
          g_ptr_array_add (strv, g_strdup (json_node_get_string (json_array_get_element (array, i))));
      g_ptr_array_add (strv, NULL);
      request->stop = (char **) g_ptr_array_free (strv, FALSE);
    }
  request->user = g_strdup (lctl_json_string (root, "user"));
  request->stream = lctl_json_bool (root, "stream") == 1;
  request->include_usage = lctl_json_bool (lctl_json_object (root, "stream_options"), "include_usage") == 1;
  if (effort != NULL)
    {
      request->thinking.mode = g_str_equal (effort, "none") ? LCTL_IR_THINKING_DISABLED : LCTL_IR_THINKING_ENABLED;
      request->thinking.effort = g_strdup (effort);
    }

  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (modeled_request_fields, l->data))
      json_object_set_member (request->extras, l->data, json_node_copy (json_object_get_member (root, l->data)));

  return g_steal_pointer (&request);
}

/* ---- Building ---- */

static JsonObject *
build_content_part (const LctlIrPart *part)
{
  JsonObject *object = NULL;

  switch (part->kind)
    {
    case LCTL_IR_PART_TEXT:
      object = json_object_new ();
      json_object_set_string_member (object, "type", "text");
      json_object_set_string_member (object, "text", part->text ? part->text : "");
      break;
    case LCTL_IR_PART_IMAGE:
      {
        JsonObject      *image = json_object_new ();
        g_autofree char *url = NULL;

        if (part->data != NULL)
          url = g_strdup_printf ("data:%s;base64,%s", part->media_type ? part->media_type : "image/png", part->data);
        else
          url = g_strdup (part->url ? part->url : "");
        json_object_set_string_member (image, "url", url);
        if (lctl_json_string (part->extra, "detail") != NULL)
          json_object_set_string_member (image, "detail", lctl_json_string (part->extra, "detail"));
        object = json_object_new ();
        json_object_set_string_member (object, "type", "image_url");
        json_object_set_object_member (object, "image_url", image);
      }
      break;
    case LCTL_IR_PART_RAW:
      if (part->raw_dialect == LCTL_DIALECT_OPENAI_CHAT && part->raw != NULL && JSON_NODE_HOLDS_OBJECT (part->raw))
        object = json_object_ref (json_node_get_object (part->raw));
      break;
    default:
      break;
    }
  return object;
}

/* A string when the content is one text part (what every
 * OpenAI-compatible server accepts), an array of parts otherwise. */
static JsonNode *
build_content (GPtrArray *parts)
{
  JsonArray *array = json_array_new ();
  JsonNode  *node;

  for (unsigned i = 0; i < parts->len; i++)
    {
      JsonObject *object = build_content_part (parts->pdata[i]);

      if (object != NULL)
        json_array_add_object_element (array, object);
    }
  if (json_array_get_length (array) == 1)
    {
      JsonObject *only = json_array_get_object_element (array, 0);

      if (g_strcmp0 (lctl_json_string (only, "type"), "text") == 0)
        {
          node = json_node_new (JSON_NODE_VALUE);
          json_node_set_string (node, lctl_json_string (only, "text"));
          json_array_unref (array);
          return node;
        }
    }
  if (json_array_get_length (array) == 0)
    {
      json_array_unref (array);
      return NULL;
    }
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, array);
  return node;
}

static char *
join_parts (GPtrArray     *parts,
            LctlIrPartKind kind,
            const char    *separator)
{
  GString *out = g_string_new (NULL);
  gboolean any = FALSE;

  for (unsigned i = 0; i < parts->len; i++)
    {
      const LctlIrPart *part = parts->pdata[i];

      if (part->kind != kind || part->text == NULL)
        continue;
      if (any && separator != NULL)
        g_string_append (out, separator);
      g_string_append (out, part->text);
      any = TRUE;
    }
  if (!any)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

static void
add_tool_message (JsonArray        *messages,
                  const LctlIrPart *part,
                  GPtrArray        *images)
{
  JsonObject      *object = json_object_new ();
  g_autofree char *text = lctl_ir_part_tool_result_text (part);

  json_object_set_string_member (object, "role", "tool");
  json_object_set_string_member (object, "tool_call_id", part->id ? part->id : "");
  /* An error result has no flag here; say so in the text. */
  if (part->is_error && !g_str_has_prefix (text, "Error"))
    {
      char *prefixed = g_strconcat ("Error: ", text, NULL);

      g_free (text);
      text = prefixed;
    }
  json_object_set_string_member (object, "content", text);
  json_array_add_object_element (messages, object);

  /* Tool messages carry text only; images travel in the next user turn. */
  if (part->content != NULL)
    for (unsigned i = 0; i < part->content->len; i++)
      {
        const LctlIrPart *sub = part->content->pdata[i];

        if (sub->kind == LCTL_IR_PART_IMAGE)
          g_ptr_array_add (images, (gpointer) sub);
      }
}

static JsonArray *
build_messages (const LctlIrRequest *request)
{
  JsonArray       *messages = json_array_new ();
  g_autofree char *system = lctl_ir_request_system_text (request);

  if (system != NULL)
    {
      JsonObject *object = json_object_new ();

      json_object_set_string_member (object, "role", "system");
      json_object_set_string_member (object, "content", system);
      json_array_add_object_element (messages, object);
    }

  for (unsigned i = 0; i < request->messages->len; i++)
    {
      const LctlIrMessage *message = request->messages->pdata[i];
      JsonObject          *object;

      if (message->role == LCTL_IR_ROLE_SYSTEM)
        {
          g_autofree char *text = join_parts (message->parts, LCTL_IR_PART_TEXT, "\n\n");

          object = json_object_new ();
          json_object_set_string_member (object, "role", "system");
          json_object_set_string_member (object, "content", text ? text : "");
          json_array_add_object_element (messages, object);
        }
      else if (message->role == LCTL_IR_ROLE_ASSISTANT)
        {
          g_autofree char *text = join_parts (message->parts, LCTL_IR_PART_TEXT, NULL);
          g_autofree char *reasoning = join_parts (message->parts, LCTL_IR_PART_THINKING, "\n\n");
          JsonArray       *calls = json_array_new ();

          for (unsigned j = 0; j < message->parts->len; j++)
            {
              const LctlIrPart *part = message->parts->pdata[j];
              JsonObject       *call, *function;

              if (part->kind != LCTL_IR_PART_TOOL_CALL)
                continue;
              call = json_object_new ();
              function = json_object_new ();
              json_object_set_string_member (call, "id", part->id ? part->id : "");
              json_object_set_string_member (call, "type", "function");
              json_object_set_string_member (function, "name", part->name ? part->name : "");
              json_object_set_string_member (function, "arguments", part->arguments && *part->arguments ? part->arguments : "{}");
              json_object_set_object_member (call, "function", function);
              json_array_add_object_element (calls, call);
            }
          object = json_object_new ();
          json_object_set_string_member (object, "role", "assistant");
          if (text != NULL && *text != '\0')
            json_object_set_string_member (object, "content", text);
          else if (json_array_get_length (calls) > 0)
            json_object_set_null_member (object, "content");
          else
            json_object_set_string_member (object, "content", "");
          if (reasoning != NULL && *reasoning != '\0')
            json_object_set_string_member (object, "reasoning_content", reasoning);
          if (json_array_get_length (calls) > 0)
            json_object_set_array_member (object, "tool_calls", calls);
          else
            json_array_unref (calls);
          if (message->name != NULL)
            json_object_set_string_member (object, "name", message->name);
          json_array_add_object_element (messages, object);
        }
      else
        {
          g_autoptr (GPtrArray) images = g_ptr_array_new ();
          g_autoptr (GPtrArray) rest = g_ptr_array_new ();
          JsonNode *content;

          /* Tool results first: they must follow the assistant's calls. */
          for (unsigned j = 0; j < message->parts->len; j++)
            {
              const LctlIrPart *part = message->parts->pdata[j];

              if (part->kind == LCTL_IR_PART_TOOL_RESULT)
                add_tool_message (messages, part, images);
              else
                g_ptr_array_add (rest, (gpointer) part);
            }
          g_ptr_array_extend (rest, images, NULL, NULL);
          content = build_content (rest);
          if (content == NULL)
            continue;
          object = json_object_new ();
          json_object_set_string_member (object, "role", "user");
          json_object_set_member (object, "content", content);
          if (message->name != NULL)
            json_object_set_string_member (object, "name", message->name);
          json_array_add_object_element (messages, object);
        }
    }
  return messages;
}

static JsonNode *
clean_schema (JsonNode *schema)
{
  JsonNode *copy = json_node_copy (schema);

  /* "$schema" is meaningless to a function definition and some
   * OpenAI-compatible servers reject it. */
  if (JSON_NODE_HOLDS_OBJECT (copy))
    json_object_remove_member (json_node_get_object (copy), "$schema");
  return copy;
}

JsonNode *
lctl_openai_chat_build_request (const LctlIrRequest    *request,
                                const char             *model,
                                const LctlBuildOptions *options,
                                GError                **error)
{
  JsonObject *body = json_object_new ();
  JsonNode   *root = lctl_json_node_new_object (body);
  gboolean    same = request->dialect == LCTL_DIALECT_OPENAI_CHAT;
  const char *effort;
  JsonArray  *tools = json_array_new ();

  if (same)
    {
      g_autoptr (GList) members = json_object_get_members (request->extras);

      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (body, l->data, json_node_copy (json_object_get_member (request->extras, l->data)));
    }
  else
    {
      g_autoptr (GList) members = json_object_get_members (request->extras);

      for (GList *l = members; l != NULL; l = l->next)
        lctl_build_options_drop (options, l->data);
    }

  json_object_set_string_member (body, "model", model ? model : request->model);
  json_object_set_array_member (body, "messages", build_messages (request));

  for (unsigned i = 0; i < request->tools->len; i++)
    {
      const LctlIrTool *tool = request->tools->pdata[i];
      JsonObject       *object, *function;

      if (tool->raw != NULL)
        {
          if (tool->raw_dialect == LCTL_DIALECT_OPENAI_CHAT)
            json_array_add_element (tools, json_node_copy (tool->raw));
          else
            lctl_build_options_drop (options, tool->type ? tool->type : "tools");
          continue;
        }
      object = json_object_new ();
      function = json_object_new ();
      json_object_set_string_member (object, "type", "function");
      json_object_set_string_member (function, "name", tool->name ? tool->name : "");
      if (tool->description != NULL)
        json_object_set_string_member (function, "description", tool->description);
      if (tool->parameters != NULL)
        json_object_set_member (function, "parameters", clean_schema (tool->parameters));
      else
        {
          JsonObject *schema = json_object_new ();

          json_object_set_string_member (schema, "type", "object");
          json_object_set_object_member (schema, "properties", json_object_new ());
          json_object_set_object_member (function, "parameters", schema);
        }
      if (tool->strict >= 0)
        json_object_set_boolean_member (function, "strict", tool->strict);
      json_object_set_object_member (object, "function", function);
      json_array_add_object_element (tools, object);
    }
  if (json_array_get_length (tools) > 0)
    {
      json_object_set_array_member (body, "tools", tools);
      switch (request->tool_choice.mode)
        {
        case LCTL_IR_TOOL_CHOICE_AUTO:
          json_object_set_string_member (body, "tool_choice", "auto");
          break;
        case LCTL_IR_TOOL_CHOICE_ANY:
          json_object_set_string_member (body, "tool_choice", "required");
          break;
        case LCTL_IR_TOOL_CHOICE_NONE:
          json_object_set_string_member (body, "tool_choice", "none");
          break;
        case LCTL_IR_TOOL_CHOICE_TOOL:
          {
            JsonObject *choice = json_object_new ();
            JsonObject *function = json_object_new ();

            json_object_set_string_member (choice, "type", "function");
            json_object_set_string_member (function, "name", request->tool_choice.name ? request->tool_choice.name : "");
            json_object_set_object_member (choice, "function", function);
            json_object_set_object_member (body, "tool_choice", choice);
          }
          break;
        case LCTL_IR_TOOL_CHOICE_UNSET:
        default:
          break;
        }
      if (request->tool_choice.parallel >= 0)
        json_object_set_boolean_member (body, "parallel_tool_calls", request->tool_choice.parallel);
    }
  else
    json_array_unref (tools);

  if (request->max_tokens > 0)
    json_object_set_int_member (body, same && request->max_tokens_field ? request->max_tokens_field : "max_tokens", request->max_tokens);
  if (!isnan (request->temperature))
    json_object_set_double_member (body, "temperature", request->temperature);
  if (!isnan (request->top_p))
    json_object_set_double_member (body, "top_p", request->top_p);
  if (request->top_k >= 0)
    {
      /* Not an OpenAI parameter; only a client that sent it here gets it. */
      if (same)
        json_object_set_int_member (body, "top_k", request->top_k);
      else
        lctl_build_options_drop (options, "top_k");
    }
  if (request->has_seed)
    json_object_set_int_member (body, "seed", request->seed);
  if (request->stop != NULL && request->stop[0] != NULL)
    {
      JsonArray *stop = json_array_new ();

      for (unsigned i = 0; request->stop[i] != NULL; i++)
        json_array_add_string_element (stop, request->stop[i]);
      json_object_set_array_member (body, "stop", stop);
    }
  if (request->user != NULL)
    json_object_set_string_member (body, "user", request->user);
  if (request->stream)
    {
      JsonObject *stream_options = json_object_new ();

      json_object_set_boolean_member (body, "stream", TRUE);
      /* Always: an Anthropic client needs the usage even when an OpenAI
       * client did not ask (its encoder then leaves the chunk out). */
      json_object_set_boolean_member (stream_options, "include_usage", TRUE);
      json_object_set_object_member (body, "stream_options", stream_options);
    }

  effort = same ? request->thinking.effort : lctl_openai_chat_effort_for_thinking (&request->thinking);
  if (effort != NULL)
    json_object_set_string_member (body, "reasoning_effort", effort);

  switch (request->response_format.type)
    {
    case LCTL_IR_FORMAT_JSON_OBJECT:
      {
        JsonObject *format = json_object_new ();

        json_object_set_string_member (format, "type", "json_object");
        json_object_set_object_member (body, "response_format", format);
      }
      break;
    case LCTL_IR_FORMAT_JSON_SCHEMA:
      {
        JsonObject *format = json_object_new ();
        JsonObject *schema = json_object_new ();

        json_object_set_string_member (format, "type", "json_schema");
        json_object_set_string_member (schema, "name", request->response_format.name ? request->response_format.name : "response");
        json_object_set_member (schema, "schema", request->response_format.schema ? json_node_copy (request->response_format.schema) : lctl_json_node_new_object (json_object_new ()));
        if (request->response_format.strict >= 0)
          json_object_set_boolean_member (schema, "strict", request->response_format.strict);
        json_object_set_object_member (format, "json_schema", schema);
        json_object_set_object_member (body, "response_format", format);
      }
      break;
    case LCTL_IR_FORMAT_TEXT:
      if (same)
        {
          JsonObject *format = json_object_new ();

          json_object_set_string_member (format, "type", "text");
          json_object_set_object_member (body, "response_format", format);
        }
      break;
    case LCTL_IR_FORMAT_UNSET:
    default:
      break;
    }

  if (request->upstream_params != NULL)
    lctl_json_merge_missing (body, request->upstream_params);
  return root;
}

/* ---- Responses ---- */

static void
parse_usage (JsonObject  *object,
             LctlIrUsage *usage)
{
  gint64 prompt = -1, cached = 0, creation = 0;

  if (object == NULL)
    return;
  lctl_json_int (object, "completion_tokens", &usage->output_tokens);
  lctl_json_int (lctl_json_object (object, "completion_tokens_details"), "reasoning_tokens", &usage->reasoning_tokens);
  if (!lctl_json_int (lctl_json_object (object, "prompt_tokens_details"), "cached_tokens", &cached))
    {
      /* DeepSeek's and Anthropic-bridging servers' spellings. */
      if (!lctl_json_int (object, "prompt_cache_hit_tokens", &cached))
        lctl_json_int (object, "cache_read_input_tokens", &cached);
    }
  lctl_json_int (object, "cache_creation_input_tokens", &creation);
  if (lctl_json_int (object, "prompt_tokens", &prompt))
    {
      /* prompt_tokens includes cached tokens; the IR's input does not. */
      usage->input_tokens = MAX (prompt - cached - creation, 0);
      usage->cache_read_tokens = cached;
      usage->cache_creation_tokens = creation;
    }
}

static JsonObject *
build_usage (const LctlIrUsage *usage)
{
  JsonObject *object = json_object_new ();
  JsonObject *prompt_details = json_object_new ();
  JsonObject *completion_details = json_object_new ();
  gint64      prompt = lctl_ir_usage_prompt_total (usage);
  gint64      completion = MAX (usage->output_tokens, 0);

  json_object_set_int_member (object, "prompt_tokens", prompt);
  json_object_set_int_member (object, "completion_tokens", completion);
  json_object_set_int_member (object, "total_tokens", prompt + completion);
  json_object_set_int_member (prompt_details, "cached_tokens", MAX (usage->cache_read_tokens, 0));
  json_object_set_object_member (object, "prompt_tokens_details", prompt_details);
  json_object_set_int_member (completion_details, "reasoning_tokens", MAX (usage->reasoning_tokens, 0));
  json_object_set_object_member (object, "completion_tokens_details", completion_details);
  return object;
}

static gboolean
has_tool_calls (GPtrArray *parts)
{
  for (unsigned i = 0; i < parts->len; i++)
    if (((LctlIrPart *) parts->pdata[i])->kind == LCTL_IR_PART_TOOL_CALL)
      return TRUE;
  return FALSE;
}

LctlIrResponse *
lctl_openai_chat_parse_response (JsonNode *root_node,
                                 GError  **error)
{
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();
  JsonObject *root = json_node_get_object (root_node);
  JsonObject *choice = lctl_json_array_object (lctl_json_array (root, "choices"), 0);
  JsonObject *message = lctl_json_object (choice, "message");
  const char *reasoning = lctl_json_string (message, "reasoning_content");
  const char *refusal = lctl_json_string (message, "refusal");
  JsonArray  *calls = lctl_json_array (message, "tool_calls");
  g_autoptr (LctlIrMessage) holder = lctl_ir_message_new (LCTL_IR_ROLE_ASSISTANT);

  if (lctl_json_member (root, "error") != NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_UPSTREAM, "The upstream answered with an error");
      return NULL;
    }
  if (message == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_UPSTREAM, "The upstream response has no choices[0].message");
      return NULL;
    }
  response->dialect = LCTL_DIALECT_OPENAI_CHAT;
  response->id = g_strdup (lctl_json_string (root, "id"));
  response->model = g_strdup (lctl_json_string (root, "model"));

  if (reasoning == NULL)
    reasoning = lctl_json_string (message, "reasoning");
  if (reasoning != NULL && *reasoning != '\0')
    {
      LctlIrPart *part = lctl_ir_part_new (LCTL_IR_PART_THINKING);

      part->text = g_strdup (reasoning);
      g_ptr_array_add (holder->parts, part);
    }
  if (!parse_content (lctl_json_member (message, "content"), holder->parts, "choices[0].message.content", error))
    return NULL;
  if (refusal != NULL)
    g_ptr_array_add (holder->parts, lctl_ir_part_new_text (refusal));
  if (calls != NULL && !parse_tool_calls (calls, holder, 0, error))
    return NULL;
  /* Empty text parts carry nothing a client could use. */
  for (unsigned i = 0; i < holder->parts->len; i++)
    {
      LctlIrPart *part = holder->parts->pdata[i];

      if (part->kind == LCTL_IR_PART_TEXT && (part->text == NULL || *part->text == '\0'))
        continue;
      g_ptr_array_add (response->parts, lctl_ir_part_copy (part));
    }

  response->stop_reason = lctl_openai_chat_stop_reason_from_string (lctl_json_string (choice, "finish_reason"));
  /* Some servers say "stop" after tool calls; the agent loop needs tool_use. */
  if (has_tool_calls (response->parts) && (response->stop_reason == LCTL_IR_STOP_END_TURN || response->stop_reason == LCTL_IR_STOP_NONE))
    response->stop_reason = LCTL_IR_STOP_TOOL_USE;
  if (refusal != NULL)
    response->stop_reason = LCTL_IR_STOP_REFUSAL;
  parse_usage (lctl_json_object (root, "usage"), &response->usage);
  return g_steal_pointer (&response);
}

JsonNode *
lctl_openai_chat_build_response (const LctlIrResponse *response,
                                 const char           *model)
{
  JsonObject      *body = json_object_new ();
  JsonObject      *choice = json_object_new ();
  JsonObject      *message = json_object_new ();
  JsonArray       *choices = json_array_new ();
  JsonArray       *calls = json_array_new ();
  g_autofree char *id = response->id ? g_strdup (response->id) : lctl_dialect_make_id ("chatcmpl-");
  g_autofree char *text = join_parts (response->parts, LCTL_IR_PART_TEXT, NULL);
  g_autofree char *reasoning = join_parts (response->parts, LCTL_IR_PART_THINKING, "\n\n");

  for (unsigned i = 0; i < response->parts->len; i++)
    {
      const LctlIrPart *part = response->parts->pdata[i];
      JsonObject       *call, *function;

      if (part->kind != LCTL_IR_PART_TOOL_CALL)
        continue;
      call = json_object_new ();
      function = json_object_new ();
      json_object_set_string_member (call, "id", part->id ? part->id : "");
      json_object_set_string_member (call, "type", "function");
      json_object_set_string_member (function, "name", part->name ? part->name : "");
      json_object_set_string_member (function, "arguments", part->arguments && *part->arguments ? part->arguments : "{}");
      json_object_set_object_member (call, "function", function);
      json_array_add_object_element (calls, call);
    }

  json_object_set_string_member (message, "role", "assistant");
  if (text != NULL)
    json_object_set_string_member (message, "content", text);
  else
    json_object_set_null_member (message, "content");
  if (reasoning != NULL)
    json_object_set_string_member (message, "reasoning_content", reasoning);
  if (json_array_get_length (calls) > 0)
    json_object_set_array_member (message, "tool_calls", calls);
  else
    json_array_unref (calls);

  json_object_set_int_member (choice, "index", 0);
  json_object_set_object_member (choice, "message", message);
  json_object_set_null_member (choice, "logprobs");
  json_object_set_string_member (choice, "finish_reason", lctl_openai_chat_stop_reason_to_string (response->stop_reason));
  json_array_add_object_element (choices, choice);

  json_object_set_string_member (body, "id", id);
  json_object_set_string_member (body, "object", "chat.completion");
  json_object_set_int_member (body, "created", g_get_real_time () / G_USEC_PER_SEC);
  json_object_set_string_member (body, "model", model ? model : (response->model ? response->model : ""));
  json_object_set_array_member (body, "choices", choices);
  json_object_set_object_member (body, "usage", build_usage (&response->usage));
  return lctl_json_node_new_object (body);
}

/* ---- Errors ---- */

LctlIrError *
lctl_openai_chat_parse_error (unsigned    status,
                              JsonNode   *root,
                              const char *text)
{
  JsonObject     *object = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode       *error_node = lctl_json_member (object, "error");
  JsonObject     *inner = error_node && JSON_NODE_HOLDS_OBJECT (error_node) ? json_node_get_object (error_node) : NULL;
  const char     *message = NULL;
  const char     *type = lctl_json_string (inner, "type");
  const char     *code = lctl_json_string (inner, "code");
  const char     *param = lctl_json_string (inner, "param");
  LctlIrErrorType ir_type = lctl_ir_error_type_from_status (status);
  LctlIrError    *error;

  if (inner != NULL)
    message = lctl_json_string (inner, "message");
  else if (is_string (error_node))
    message = json_node_get_string (error_node);
  if (message == NULL)
    message = lctl_json_string (object, "message");
  if (message == NULL)
    message = lctl_json_string (object, "detail");
  if (message == NULL && object == NULL)
    message = text;

  if (g_strcmp0 (code, "context_length_exceeded") == 0 || lctl_dialect_text_means_context_window (message))
    ir_type = LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED;
  else if (g_strcmp0 (code, "content_policy_violation") == 0 || g_strcmp0 (code, "content_filter") == 0 || (status == 400 && lctl_dialect_text_means_content_policy (message)))
    ir_type = LCTL_IR_ERROR_CONTENT_POLICY;
  else if (status < 400 && type != NULL)
    {
      /* In-stream errors: the type is all there is. */
      if (strstr (type, "rate_limit") != NULL)
        ir_type = LCTL_IR_ERROR_RATE_LIMIT;
      else if (strstr (type, "overloaded") != NULL)
        ir_type = LCTL_IR_ERROR_OVERLOADED;
      else if (strstr (type, "invalid_request") != NULL)
        ir_type = LCTL_IR_ERROR_INVALID_REQUEST;
      else if (strstr (type, "authentication") != NULL)
        ir_type = LCTL_IR_ERROR_AUTHENTICATION;
      else
        ir_type = LCTL_IR_ERROR_API_ERROR;
    }
  if (status < 400)
    status = 0;
  error = lctl_ir_error_new (ir_type, status, message && *message ? message : NULL);
  error->param = g_strdup (param);
  error->code = g_strdup (code);
  return error;
}

JsonNode *
lctl_openai_chat_build_error (const LctlIrError *error,
                              unsigned          *status)
{
  JsonObject *body = json_object_new ();
  JsonObject *inner = json_object_new ();
  const char *type = "api_error";
  const char *code = error->code;

  switch (error->type)
    {
    case LCTL_IR_ERROR_INVALID_REQUEST:
    case LCTL_IR_ERROR_REQUEST_TOO_LARGE:
      type = "invalid_request_error";
      break;
    case LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED:
      type = "invalid_request_error";
      code = "context_length_exceeded";
      break;
    case LCTL_IR_ERROR_CONTENT_POLICY:
      type = "invalid_request_error";
      code = "content_policy_violation";
      break;
    case LCTL_IR_ERROR_AUTHENTICATION:
      type = "authentication_error";
      code = code ? code : "invalid_api_key";
      break;
    case LCTL_IR_ERROR_PERMISSION:
      type = "permission_error";
      break;
    case LCTL_IR_ERROR_NOT_FOUND:
      type = "not_found_error";
      code = code ? code : "model_not_found";
      break;
    case LCTL_IR_ERROR_RATE_LIMIT:
      type = "rate_limit_error";
      code = code ? code : "rate_limit_exceeded";
      break;
    case LCTL_IR_ERROR_OVERLOADED:
      type = "overloaded_error";
      code = code ? code : "overloaded";
      break;
    case LCTL_IR_ERROR_TIMEOUT:
      type = "timeout_error";
      break;
    case LCTL_IR_ERROR_BILLING:
      type = "insufficient_quota";
      code = code ? code : "insufficient_quota";
      break;
    case LCTL_IR_ERROR_API_ERROR:
    default:
      type = "server_error";
      break;
    }
  /* Anthropic error type names as codes mean nothing to OpenAI clients. */
  if (code != NULL && g_str_has_suffix (code, "_error") && error->type != LCTL_IR_ERROR_API_ERROR)
    code = NULL;

  json_object_set_string_member (inner, "message", error->message ? error->message : type);
  json_object_set_string_member (inner, "type", type);
  if (error->param != NULL)
    json_object_set_string_member (inner, "param", error->param);
  else
    json_object_set_null_member (inner, "param");
  if (code != NULL)
    json_object_set_string_member (inner, "code", code);
  else
    json_object_set_null_member (inner, "code");
  json_object_set_object_member (body, "error", inner);
  if (status != NULL)
    *status = error->status ? error->status : lctl_ir_error_type_default_status (error->type);
  return lctl_json_node_new_object (body);
}

/* ---- Stream decoder ---- */

typedef enum
{
  OPEN_NONE,
  OPEN_TEXT,
  OPEN_THINKING,
  OPEN_TOOL,
} OpenKind;

struct _LctlOpenaiChatDecoder
{
  gboolean         started;
  gboolean         done;
  gboolean         saw_tool_call;
  int              next_index;
  OpenKind         open_kind;
  int              open_index;
  gint64           open_tool; /* OpenAI tool_calls index of the open tool part */
  GHashTable      *tool_map;  /* OpenAI tool index → IR index + 1 */
  GHashTable      *tool_ids;  /* OpenAI tool index → id of the call there */
  LctlIrStopReason stop_reason;
  LctlIrUsage      usage;
};

LctlOpenaiChatDecoder *
lctl_openai_chat_decoder_new (void)
{
  LctlOpenaiChatDecoder *decoder = g_new0 (LctlOpenaiChatDecoder, 1);

  decoder->open_index = -1;
  decoder->open_tool = -1;
  decoder->tool_map = g_hash_table_new (NULL, NULL);
  decoder->tool_ids = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  lctl_ir_usage_init (&decoder->usage);
  return decoder;
}

void
lctl_openai_chat_decoder_free (LctlOpenaiChatDecoder *decoder)
{
  if (decoder == NULL)
    return;
  g_hash_table_unref (decoder->tool_map);
  g_hash_table_unref (decoder->tool_ids);
  g_free (decoder);
}

gboolean
lctl_openai_chat_decoder_is_done (LctlOpenaiChatDecoder *decoder)
{
  return decoder->done;
}

static void
push_event (GPtrArray   *events,
            LctlIrEvent *event)
{
  g_ptr_array_add (events, event);
}

static void
decoder_close (LctlOpenaiChatDecoder *decoder,
               GPtrArray             *events)
{
  LctlIrEvent *event;

  if (decoder->open_kind == OPEN_NONE)
    return;
  event = lctl_ir_event_new (LCTL_IR_EVENT_PART_STOP);
  event->index = decoder->open_index;
  push_event (events, event);
  decoder->open_kind = OPEN_NONE;
  decoder->open_index = -1;
  decoder->open_tool = -1;
}

static int
decoder_open (LctlOpenaiChatDecoder *decoder,
              OpenKind               kind,
              LctlIrPart            *part,
              GPtrArray             *events)
{
  LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_PART_START);

  decoder_close (decoder, events);
  event->index = decoder->next_index++;
  event->part = part;
  push_event (events, event);
  decoder->open_kind = kind;
  decoder->open_index = event->index;
  return event->index;
}

static void
decoder_delta (GPtrArray      *events,
               LctlIrEventType type,
               int             index,
               const char     *text)
{
  LctlIrEvent *event = lctl_ir_event_new (type);

  event->index = index;
  event->text = g_strdup (text);
  push_event (events, event);
}

static void
decoder_start (LctlOpenaiChatDecoder *decoder,
               JsonObject            *chunk,
               GPtrArray             *events)
{
  LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_MESSAGE_START);

  event->index = -1;
  event->id = g_strdup (lctl_json_string (chunk, "id"));
  event->model = g_strdup (lctl_json_string (chunk, "model"));
  event->usage = decoder->usage;
  push_event (events, event);
  decoder->started = TRUE;
}

static void
decoder_stop (LctlOpenaiChatDecoder *decoder,
              GPtrArray             *events)
{
  LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_MESSAGE_STOP);

  if (!decoder->started)
    decoder_start (decoder, NULL, events);
  decoder_close (decoder, events);
  event->index = -1;
  event->stop_reason = decoder->stop_reason;
  if (event->stop_reason == LCTL_IR_STOP_NONE)
    event->stop_reason = LCTL_IR_STOP_END_TURN;
  if (decoder->saw_tool_call && event->stop_reason == LCTL_IR_STOP_END_TURN)
    event->stop_reason = LCTL_IR_STOP_TOOL_USE;
  event->usage = decoder->usage;
  push_event (events, event);
  decoder->done = TRUE;
}

static void
decoder_tool_calls (LctlOpenaiChatDecoder *decoder,
                    JsonArray             *calls,
                    GPtrArray             *events)
{
  for (unsigned i = 0; i < json_array_get_length (calls); i++)
    {
      JsonObject *call = lctl_json_array_object (calls, i);
      JsonObject *function = lctl_json_object (call, "function");
      const char *id = lctl_json_string (call, "id");
      const char *name = lctl_json_string (function, "name");
      const char *arguments = lctl_json_string (function, "arguments");
      gint64      tool_index = i;
      gpointer    mapped;
      int         index;

      if (call == NULL)
        continue;
      lctl_json_int (call, "index", &tool_index);
      tool_index = CLAMP (tool_index, 0, 1 << 20);
      mapped = g_hash_table_lookup (decoder->tool_map, GINT_TO_POINTER ((int) tool_index));

      /* A new call: an index not seen yet, or (servers that number every
       * call 0) an id other than the one at that index. Servers that repeat
       * the id in every fragment keep appending. */
      if (mapped == NULL || (id != NULL && *id != '\0' && g_strcmp0 (id, g_hash_table_lookup (decoder->tool_ids, GINT_TO_POINTER ((int) tool_index))) != 0))
        {
          LctlIrPart *part = lctl_ir_part_new (LCTL_IR_PART_TOOL_CALL);

          part->id = id && *id ? g_strdup (id) : lctl_dialect_make_id ("call_");
          part->name = g_strdup (name ? name : "");
          index = decoder_open (decoder, OPEN_TOOL, part, events);
          decoder->open_tool = tool_index;
          decoder->saw_tool_call = TRUE;
          g_hash_table_insert (decoder->tool_map, GINT_TO_POINTER ((int) tool_index), GINT_TO_POINTER (index + 1));
          g_hash_table_insert (decoder->tool_ids, GINT_TO_POINTER ((int) tool_index), g_strdup (part->id));
        }
      else
        index = GPOINTER_TO_INT (mapped) - 1;

      if (arguments != NULL && *arguments != '\0')
        decoder_delta (events, LCTL_IR_EVENT_TOOL_ARGS_DELTA, index, arguments);
    }
}

gboolean
lctl_openai_chat_decoder_feed (LctlOpenaiChatDecoder *decoder,
                               const char            *event_name,
                               const char            *data,
                               GPtrArray             *events,
                               GError               **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *chunk;
  JsonObject *choice;
  JsonObject *delta;
  JsonObject *usage;
  const char *text;
  const char *finish;

  if (decoder->done)
    return TRUE;
  if (data == NULL)
    return TRUE;
  while (g_ascii_isspace (*data))
    data++;
  if (g_str_has_prefix (data, "[DONE]"))
    {
      decoder_stop (decoder, events);
      return TRUE;
    }
  root = lctl_json_parse (data, -1, "An upstream stream chunk", error);
  if (root == NULL)
    return FALSE;
  chunk = json_node_get_object (root);

  if (lctl_json_member (chunk, "error") != NULL)
    {
      LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_ERROR);

      event->index = -1;
      event->error = lctl_openai_chat_parse_error (0, root, NULL);
      push_event (events, event);
      decoder->done = TRUE;
      return TRUE;
    }

  if (!decoder->started)
    decoder_start (decoder, chunk, events);

  choice = lctl_json_array_object (lctl_json_array (chunk, "choices"), 0);
  delta = lctl_json_object (choice, "delta");

  text = lctl_json_string (delta, "reasoning_content");
  if (text == NULL)
    text = lctl_json_string (delta, "reasoning");
  if (text != NULL && *text != '\0')
    {
      if (decoder->open_kind != OPEN_THINKING)
        decoder_open (decoder, OPEN_THINKING, lctl_ir_part_new (LCTL_IR_PART_THINKING), events);
      decoder_delta (events, LCTL_IR_EVENT_THINKING_DELTA, decoder->open_index, text);
    }

  text = lctl_json_string (delta, "content");
  if (text == NULL)
    text = lctl_json_string (delta, "refusal");
  if (text != NULL && *text != '\0')
    {
      if (decoder->open_kind != OPEN_TEXT)
        decoder_open (decoder, OPEN_TEXT, lctl_ir_part_new (LCTL_IR_PART_TEXT), events);
      decoder_delta (events, LCTL_IR_EVENT_TEXT_DELTA, decoder->open_index, text);
    }

  if (lctl_json_array (delta, "tool_calls") != NULL)
    decoder_tool_calls (decoder, lctl_json_array (delta, "tool_calls"), events);

  finish = lctl_json_string (choice, "finish_reason");
  if (finish != NULL)
    {
      decoder_close (decoder, events);
      decoder->stop_reason = lctl_openai_chat_stop_reason_from_string (finish);
      if (lctl_json_string (delta, "refusal") != NULL)
        decoder->stop_reason = LCTL_IR_STOP_REFUSAL;
    }

  usage = lctl_json_object (chunk, "usage");
  if (usage != NULL)
    {
      LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_USAGE);

      parse_usage (usage, &decoder->usage);
      event->index = -1;
      event->usage = decoder->usage;
      push_event (events, event);
    }
  return TRUE;
}

void
lctl_openai_chat_decoder_finish (LctlOpenaiChatDecoder *decoder,
                                 GPtrArray             *events)
{
  LctlIrEvent *event;

  if (decoder->done)
    return;
  if (decoder->stop_reason != LCTL_IR_STOP_NONE)
    {
      /* finish_reason came, [DONE] did not (Qwen): the answer is whole. */
      decoder_stop (decoder, events);
      return;
    }
  event = lctl_ir_event_new (LCTL_IR_EVENT_ERROR);
  event->index = -1;
  event->error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, 502, "The upstream stream ended before a finish_reason");
  push_event (events, event);
  decoder->done = TRUE;
}

/* ---- Stream encoder ---- */

struct _LctlOpenaiChatEncoder
{
  char       *model;
  char       *id;
  gint64      created;
  gboolean    include_usage;
  gboolean    started;
  gboolean    done;
  int         next_tool;
  GHashTable *tool_map; /* IR index → OpenAI tool index + 1 */
  LctlIrUsage usage;
};

LctlOpenaiChatEncoder *
lctl_openai_chat_encoder_new (const char *model,
                              gboolean    include_usage)
{
  LctlOpenaiChatEncoder *encoder = g_new0 (LctlOpenaiChatEncoder, 1);

  encoder->model = g_strdup (model);
  encoder->include_usage = include_usage;
  encoder->created = g_get_real_time () / G_USEC_PER_SEC;
  encoder->tool_map = g_hash_table_new (NULL, NULL);
  lctl_ir_usage_init (&encoder->usage);
  return encoder;
}

void
lctl_openai_chat_encoder_free (LctlOpenaiChatEncoder *encoder)
{
  if (encoder == NULL)
    return;
  g_free (encoder->model);
  g_free (encoder->id);
  g_hash_table_unref (encoder->tool_map);
  g_free (encoder);
}

gboolean
lctl_openai_chat_encoder_is_done (LctlOpenaiChatEncoder *encoder)
{
  return encoder->done;
}

static void
write_data (GString    *out,
            JsonObject *object)
{
  g_autoptr (JsonNode) node = lctl_json_node_new_object (object);
  g_autofree char *data = lctl_json_to_string (node);

  lctl_sse_append_event (out, NULL, data);
}

/* One chunk with choices[0].delta = @delta (taken). */
static void
write_chunk (LctlOpenaiChatEncoder *encoder,
             JsonObject            *delta,
             const char            *finish_reason,
             GString               *out)
{
  JsonObject *object = json_object_new ();
  JsonObject *choice = json_object_new ();
  JsonArray  *choices = json_array_new ();

  json_object_set_string_member (object, "id", encoder->id);
  json_object_set_string_member (object, "object", "chat.completion.chunk");
  json_object_set_int_member (object, "created", encoder->created);
  json_object_set_string_member (object, "model", encoder->model);
  json_object_set_int_member (choice, "index", 0);
  json_object_set_object_member (choice, "delta", delta);
  json_object_set_null_member (choice, "logprobs");
  if (finish_reason != NULL)
    json_object_set_string_member (choice, "finish_reason", finish_reason);
  else
    json_object_set_null_member (choice, "finish_reason");
  json_array_add_object_element (choices, choice);
  json_object_set_array_member (object, "choices", choices);
  write_data (out, object);
}

static void
encoder_start (LctlOpenaiChatEncoder *encoder,
               const LctlIrEvent     *event,
               GString               *out)
{
  JsonObject *delta = json_object_new ();

  if (encoder->id == NULL)
    encoder->id = event && event->id ? g_strdup (event->id) : lctl_dialect_make_id ("chatcmpl-");
  if (encoder->model == NULL)
    encoder->model = g_strdup (event && event->model ? event->model : "");
  if (event != NULL)
    lctl_ir_usage_merge (&encoder->usage, &event->usage);
  json_object_set_string_member (delta, "role", "assistant");
  json_object_set_string_member (delta, "content", "");
  write_chunk (encoder, delta, NULL, out);
  encoder->started = TRUE;
}

static void
write_text_delta (LctlOpenaiChatEncoder *encoder,
                  const char            *field,
                  const char            *text,
                  GString               *out)
{
  JsonObject *delta;

  if (text == NULL || *text == '\0')
    return;
  delta = json_object_new ();
  json_object_set_string_member (delta, field, text);
  write_chunk (encoder, delta, NULL, out);
}

static void
write_tool_delta (LctlOpenaiChatEncoder *encoder,
                  int                    tool_index,
                  const char            *id,
                  const char            *name,
                  const char            *arguments,
                  GString               *out)
{
  JsonObject *delta = json_object_new ();
  JsonArray  *calls = json_array_new ();
  JsonObject *call = json_object_new ();
  JsonObject *function = json_object_new ();

  json_object_set_int_member (call, "index", tool_index);
  if (id != NULL)
    {
      json_object_set_string_member (call, "id", id);
      json_object_set_string_member (call, "type", "function");
      json_object_set_string_member (function, "name", name ? name : "");
    }
  json_object_set_string_member (function, "arguments", arguments ? arguments : "");
  json_object_set_object_member (call, "function", function);
  json_array_add_object_element (calls, call);
  json_object_set_array_member (delta, "tool_calls", calls);
  write_chunk (encoder, delta, NULL, out);
}

void
lctl_openai_chat_encoder_encode (LctlOpenaiChatEncoder *encoder,
                                 const LctlIrEvent     *event,
                                 GString               *out)
{
  if (encoder->done)
    return;
  if (!encoder->started && event->type != LCTL_IR_EVENT_PING && event->type != LCTL_IR_EVENT_ERROR && event->type != LCTL_IR_EVENT_USAGE)
    encoder_start (encoder, event->type == LCTL_IR_EVENT_MESSAGE_START ? event : NULL, out);

  switch (event->type)
    {
    case LCTL_IR_EVENT_PART_START:
      if (event->part == NULL)
        break;
      if (event->part->kind == LCTL_IR_PART_TOOL_CALL)
        {
          int tool_index = encoder->next_tool++;

          g_hash_table_insert (encoder->tool_map, GINT_TO_POINTER (event->index), GINT_TO_POINTER (tool_index + 1));
          write_tool_delta (encoder, tool_index, event->part->id ? event->part->id : "", event->part->name, "", out);
          if (event->part->arguments && *event->part->arguments)
            write_tool_delta (encoder, tool_index, NULL, NULL, event->part->arguments, out);
        }
      else if (event->part->kind == LCTL_IR_PART_TEXT)
        write_text_delta (encoder, "content", event->part->text, out);
      else if (event->part->kind == LCTL_IR_PART_THINKING)
        write_text_delta (encoder, "reasoning_content", event->part->text, out);
      break;
    case LCTL_IR_EVENT_TEXT_DELTA:
      write_text_delta (encoder, "content", event->text, out);
      break;
    case LCTL_IR_EVENT_THINKING_DELTA:
      write_text_delta (encoder, "reasoning_content", event->text, out);
      break;
    case LCTL_IR_EVENT_TOOL_ARGS_DELTA:
      {
        gpointer mapped = g_hash_table_lookup (encoder->tool_map, GINT_TO_POINTER (event->index));

        if (mapped != NULL && event->text != NULL && *event->text != '\0')
          write_tool_delta (encoder, GPOINTER_TO_INT (mapped) - 1, NULL, NULL, event->text, out);
      }
      break;
    case LCTL_IR_EVENT_USAGE:
      lctl_ir_usage_merge (&encoder->usage, &event->usage);
      break;
    case LCTL_IR_EVENT_MESSAGE_STOP:
      {
        LctlIrStopReason reason = event->stop_reason;

        lctl_ir_usage_merge (&encoder->usage, &event->usage);
        if (reason == LCTL_IR_STOP_END_TURN && encoder->next_tool > 0)
          reason = LCTL_IR_STOP_TOOL_USE;
        write_chunk (encoder, json_object_new (), lctl_openai_chat_stop_reason_to_string (reason), out);
        if (encoder->include_usage)
          {
            JsonObject *object = json_object_new ();

            json_object_set_string_member (object, "id", encoder->id);
            json_object_set_string_member (object, "object", "chat.completion.chunk");
            json_object_set_int_member (object, "created", encoder->created);
            json_object_set_string_member (object, "model", encoder->model);
            json_object_set_array_member (object, "choices", json_array_new ());
            json_object_set_object_member (object, "usage", build_usage (&encoder->usage));
            write_data (out, object);
          }
        lctl_sse_append_event (out, NULL, "[DONE]");
        encoder->done = TRUE;
      }
      break;
    case LCTL_IR_EVENT_ERROR:
      if (event->error != NULL)
        lctl_openai_chat_encoder_error (encoder, event->error, out);
      else
        {
          g_autoptr (LctlIrError) error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, 0, NULL);

          lctl_openai_chat_encoder_error (encoder, error, out);
        }
      break;
    case LCTL_IR_EVENT_PING:
      lctl_openai_chat_encoder_ping (encoder, out);
      break;
    case LCTL_IR_EVENT_MESSAGE_START:
    case LCTL_IR_EVENT_SIGNATURE_DELTA:
    case LCTL_IR_EVENT_PART_STOP:
    default:
      break;
    }
}

void
lctl_openai_chat_encoder_ping (LctlOpenaiChatEncoder *encoder,
                               GString               *out)
{
  /* Chat Completions has no ping; a comment keeps the connection alive
   * and every SSE client skips it. */
  lctl_sse_append_comment (out, "ping");
}

void
lctl_openai_chat_encoder_error (LctlOpenaiChatEncoder *encoder,
                                const LctlIrError     *error,
                                GString               *out)
{
  g_autoptr (JsonNode) body = lctl_openai_chat_build_error (error, NULL);
  g_autofree char *data = lctl_json_to_string (body);

  lctl_sse_append_event (out, NULL, data);
  encoder->done = TRUE;
}
