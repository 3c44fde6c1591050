/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lctl-json.h"
#include "lctl-dialect-anthropic.h"
#include "lctl-sse.h"

/* Anthropic requires max_tokens; when a client of another dialect did not
 * send one (and the deployment sets no `max_tokens`), ask for this much:
 * enough for long answers, and accepted by the Anthropic-compatible
 * endpoints (DashScope, MiniMax, Z.AI), whose output limits are lower than
 * Claude's. */
#define DEFAULT_MAX_TOKENS 8192

/* OpenAI reasoning_effort → thinking budget, as LiteLLM maps it. */
#define BUDGET_LOW    1024
#define BUDGET_MEDIUM 2048
#define BUDGET_HIGH   4096

/* Top-level request fields the IR models; everything else is an extra. */
static const char *const modeled_request_fields[] = {
  "model", "messages", "system", "max_tokens", "temperature", "top_p",
  "top_k", "stop_sequences", "stream", "tools", "tool_choice", "metadata",
  "thinking", "output_format", NULL
};

static gboolean
is_modeled (const char *key)
{
  return g_strv_contains (modeled_request_fields, key);
}

char *
lctl_anthropic_sanitize_tool_id (const char *id)
{
  GString *out;

  if (id == NULL || *id == '\0')
    return lctl_dialect_make_id ("toolu_");
  out = g_string_new (NULL);
  for (const char *p = id; *p; p++)
    g_string_append_c (out, (g_ascii_isalnum (*p) || *p == '_' || *p == '-') ? *p : '_');
  return g_string_free (out, FALSE);
}

const char *
lctl_anthropic_stop_reason_to_string (LctlIrStopReason reason)
{
  switch (reason)
    {
    case LCTL_IR_STOP_MAX_TOKENS:
      return "max_tokens";
    case LCTL_IR_STOP_STOP_SEQUENCE:
      return "stop_sequence";
    case LCTL_IR_STOP_TOOL_USE:
      return "tool_use";
    case LCTL_IR_STOP_PAUSE:
      return "pause_turn";
    case LCTL_IR_STOP_REFUSAL:
    case LCTL_IR_STOP_CONTENT_FILTER:
      return "refusal";
    case LCTL_IR_STOP_CONTEXT_WINDOW:
      return "model_context_window_exceeded";
    case LCTL_IR_STOP_NONE:
    case LCTL_IR_STOP_END_TURN:
    case LCTL_IR_STOP_ERROR:
    default:
      return "end_turn";
    }
}

LctlIrStopReason
lctl_anthropic_stop_reason_from_string (const char *reason)
{
  if (reason == NULL)
    return LCTL_IR_STOP_NONE;
  if (g_str_equal (reason, "end_turn"))
    return LCTL_IR_STOP_END_TURN;
  if (g_str_equal (reason, "max_tokens"))
    return LCTL_IR_STOP_MAX_TOKENS;
  if (g_str_equal (reason, "stop_sequence"))
    return LCTL_IR_STOP_STOP_SEQUENCE;
  if (g_str_equal (reason, "tool_use"))
    return LCTL_IR_STOP_TOOL_USE;
  if (g_str_equal (reason, "pause_turn"))
    return LCTL_IR_STOP_PAUSE;
  if (g_str_equal (reason, "refusal"))
    return LCTL_IR_STOP_REFUSAL;
  if (g_str_equal (reason, "model_context_window_exceeded"))
    return LCTL_IR_STOP_CONTEXT_WINDOW;
  return LCTL_IR_STOP_END_TURN;
}

/* ---- Parsing ---- */

static LctlIrPart *parse_block (JsonNode   *node,
                                const char *where,
                                GError    **error);

static gboolean
parse_blocks (JsonNode   *content,
              GPtrArray  *parts,
              const char *where,
              GError    **error)
{
  JsonArray *array;

  if (JSON_NODE_HOLDS_VALUE (content) && json_node_get_value_type (content) == G_TYPE_STRING)
    {
      g_ptr_array_add (parts, lctl_ir_part_new_text (json_node_get_string (content)));
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (content))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s: must be a string or an array of content blocks", where);
      return FALSE;
    }
  array = json_node_get_array (content);
  for (unsigned i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *here = g_strdup_printf ("%s[%u]", where, i);
      LctlIrPart      *part = parse_block (json_array_get_element (array, i), here, error);

      if (part == NULL)
        return FALSE;
      g_ptr_array_add (parts, part);
    }
  return TRUE;
}

static LctlIrPart *
parse_block (JsonNode   *node,
             const char *where,
             GError    **error)
{
  JsonObject *block;
  const char *type;
  g_autoptr (LctlIrPart) part = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s: must be an object", where);
      return NULL;
    }
  block = json_node_get_object (node);
  type = lctl_json_string (block, "type");
  if (type == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s.type: required string", where);
      return NULL;
    }

  if (g_str_equal (type, "text"))
    {
      const char *text = lctl_json_string (block, "text");

      if (text == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s.text: required string", where);
          return NULL;
        }
      part = lctl_ir_part_new_text (text);
      if (lctl_json_member (block, "citations") != NULL)
        {
          part->extra = json_object_new ();
          json_object_set_member (part->extra, "citations", json_node_copy (lctl_json_member (block, "citations")));
        }
    }
  else if (g_str_equal (type, "image"))
    {
      JsonObject *source = lctl_json_object (block, "source");
      const char *source_type = lctl_json_string (source, "type");

      part = lctl_ir_part_new (LCTL_IR_PART_IMAGE);
      if (g_strcmp0 (source_type, "base64") == 0 && lctl_json_string (source, "data") != NULL)
        {
          part->media_type = g_strdup (lctl_json_string (source, "media_type"));
          part->data = g_strdup (lctl_json_string (source, "data"));
        }
      else if (g_strcmp0 (source_type, "url") == 0 && lctl_json_string (source, "url") != NULL)
        part->url = g_strdup (lctl_json_string (source, "url"));
      else if (source_type != NULL)
        {
          /* file ids and the like only mean something to Anthropic. */
          g_clear_pointer (&part, lctl_ir_part_free);
          part = lctl_ir_part_new (LCTL_IR_PART_RAW);
          part->raw = json_node_copy (node);
          part->raw_dialect = LCTL_DIALECT_ANTHROPIC;
        }
      else
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s.source: required object with a type", where);
          return NULL;
        }
    }
  else if (g_str_equal (type, "tool_use"))
    {
      JsonNode *input = lctl_json_member (block, "input");

      part = lctl_ir_part_new (LCTL_IR_PART_TOOL_CALL);
      part->id = g_strdup (lctl_json_string (block, "id"));
      part->name = g_strdup (lctl_json_string (block, "name"));
      if (part->id == NULL || part->name == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s: tool_use needs an id and a name", where);
          return NULL;
        }
      part->arguments = input != NULL ? lctl_json_to_string (input) : g_strdup ("{}");
    }
  else if (g_str_equal (type, "tool_result"))
    {
      JsonNode *content = lctl_json_member (block, "content");

      part = lctl_ir_part_new (LCTL_IR_PART_TOOL_RESULT);
      part->id = g_strdup (lctl_json_string (block, "tool_use_id"));
      if (part->id == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s.tool_use_id: required string", where);
          return NULL;
        }
      part->is_error = lctl_json_bool (block, "is_error") == 1;
      if (content == NULL)
        part->text = g_strdup ("");
      else if (JSON_NODE_HOLDS_VALUE (content) && json_node_get_value_type (content) == G_TYPE_STRING)
        part->text = g_strdup (json_node_get_string (content));
      else
        {
          g_autofree char *here = g_strdup_printf ("%s.content", where);

          part->content = g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_ir_part_free);
          if (!parse_blocks (content, part->content, here, error))
            return NULL;
        }
    }
  else if (g_str_equal (type, "thinking"))
    {
      part = lctl_ir_part_new (LCTL_IR_PART_THINKING);
      part->text = g_strdup (lctl_json_string (block, "thinking"));
      part->signature = g_strdup (lctl_json_string (block, "signature"));
      if (part->text == NULL)
        part->text = g_strdup ("");
    }
  else if (g_str_equal (type, "redacted_thinking"))
    {
      part = lctl_ir_part_new (LCTL_IR_PART_REDACTED_THINKING);
      part->text = g_strdup (lctl_json_string (block, "data"));
    }
  else
    {
      /* document, search_result, server_tool_use, web_search_tool_result,
       * container_upload…: meaningful only to Anthropic. */
      part = lctl_ir_part_new (LCTL_IR_PART_RAW);
      part->raw = json_node_copy (node);
      part->raw_dialect = LCTL_DIALECT_ANTHROPIC;
      return g_steal_pointer (&part);
    }

  if (lctl_json_member (block, "cache_control") != NULL)
    part->cache_control = json_node_copy (lctl_json_member (block, "cache_control"));
  return g_steal_pointer (&part);
}

static gboolean
parse_tools (JsonObject    *root,
             LctlIrRequest *request,
             GError       **error)
{
  JsonNode  *tools_node = lctl_json_member (root, "tools");
  JsonArray *tools;

  if (tools_node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (tools_node))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "tools: must be an array");
      return FALSE;
    }
  tools = json_node_get_array (tools_node);
  for (unsigned i = 0; i < json_array_get_length (tools); i++)
    {
      JsonObject *object = lctl_json_array_object (tools, i);
      LctlIrTool *tool;
      const char *type;

      if (object == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "tools[%u]: must be an object", i);
          return FALSE;
        }
      tool = lctl_ir_tool_new ();
      g_ptr_array_add (request->tools, tool);
      type = lctl_json_string (object, "type");
      tool->name = g_strdup (lctl_json_string (object, "name"));
      if (type != NULL && !g_str_equal (type, "custom"))
        {
          /* Server and client tools with a versioned type (bash_20250124,
           * web_search_20250305…) are Anthropic-only. */
          tool->type = g_strdup (type);
          tool->raw = json_node_copy (json_array_get_element (tools, i));
          tool->raw_dialect = LCTL_DIALECT_ANTHROPIC;
          continue;
        }
      if (tool->name == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "tools[%u].name: required string", i);
          return FALSE;
        }
      tool->description = g_strdup (lctl_json_string (object, "description"));
      if (lctl_json_object (object, "input_schema") != NULL)
        tool->parameters = json_node_copy (lctl_json_member (object, "input_schema"));
      if (lctl_json_member (object, "cache_control") != NULL)
        tool->cache_control = json_node_copy (lctl_json_member (object, "cache_control"));
      if (lctl_json_bool (object, "strict") >= 0)
        tool->strict = lctl_json_bool (object, "strict");
    }
  return TRUE;
}

static void
parse_tool_choice (JsonObject    *root,
                   LctlIrRequest *request)
{
  JsonObject *choice = lctl_json_object (root, "tool_choice");
  const char *type = lctl_json_string (choice, "type");

  if (choice == NULL)
    return;
  if (g_strcmp0 (type, "auto") == 0)
    request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_AUTO;
  else if (g_strcmp0 (type, "any") == 0)
    request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_ANY;
  else if (g_strcmp0 (type, "none") == 0)
    request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_NONE;
  else if (g_strcmp0 (type, "tool") == 0)
    {
      request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_TOOL;
      request->tool_choice.name = g_strdup (lctl_json_string (choice, "name"));
    }
  if (lctl_json_bool (choice, "disable_parallel_tool_use") >= 0)
    request->tool_choice.parallel = !lctl_json_bool (choice, "disable_parallel_tool_use");
}

static void
parse_thinking (JsonObject    *root,
                LctlIrRequest *request)
{
  JsonObject *thinking = lctl_json_object (root, "thinking");
  JsonObject *output_config = lctl_json_object (root, "output_config");
  const char *type = lctl_json_string (thinking, "type");
  const char *effort = lctl_json_string (output_config, "effort");

  if (g_strcmp0 (type, "enabled") == 0)
    request->thinking.mode = LCTL_IR_THINKING_ENABLED;
  else if (g_strcmp0 (type, "adaptive") == 0)
    request->thinking.mode = LCTL_IR_THINKING_ADAPTIVE;
  else if (g_strcmp0 (type, "disabled") == 0)
    request->thinking.mode = LCTL_IR_THINKING_DISABLED;
  lctl_json_int (thinking, "budget_tokens", &request->thinking.budget_tokens);
  if (effort != NULL)
    request->thinking.effort = g_strdup (effort);
}

static void
parse_format (JsonObject    *root,
              LctlIrRequest *request)
{
  /* output_config.format (GA) or output_format (structured-outputs beta). */
  JsonObject *format = lctl_json_object (lctl_json_object (root, "output_config"), "format");

  if (format == NULL)
    format = lctl_json_object (root, "output_format");
  if (format == NULL)
    return;
  if (g_strcmp0 (lctl_json_string (format, "type"), "json_schema") == 0)
    {
      request->response_format.type = LCTL_IR_FORMAT_JSON_SCHEMA;
      if (lctl_json_member (format, "schema") != NULL)
        request->response_format.schema = json_node_copy (lctl_json_member (format, "schema"));
      request->response_format.name = g_strdup (lctl_json_string (format, "name"));
    }
}

LctlIrRequest *
lctl_anthropic_parse_request (JsonNode *root_node,
                              GError  **error)
{
  g_autoptr (LctlIrRequest) request = lctl_ir_request_new (LCTL_DIALECT_ANTHROPIC);
  JsonObject *root = json_node_get_object (root_node);
  JsonNode   *system = lctl_json_member (root, "system");
  JsonNode   *messages_node = lctl_json_member (root, "messages");
  JsonArray  *messages;
  JsonArray  *stop;
  g_autoptr (GList) members = NULL;
  double number;

  request->model = g_strdup (lctl_json_string (root, "model"));
  if (request->model == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "model: required string");
      return NULL;
    }
  if (messages_node == NULL || !JSON_NODE_HOLDS_ARRAY (messages_node))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages: required array");
      return NULL;
    }

  if (system != NULL && !parse_blocks (system, request->system, "system", error))
    return NULL;

  messages = json_node_get_array (messages_node);
  for (unsigned i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject      *object = lctl_json_array_object (messages, i);
      const char      *role = lctl_json_string (object, "role");
      JsonNode        *content = lctl_json_member (object, "content");
      g_autofree char *where = g_strdup_printf ("messages[%u].content", i);
      LctlIrMessage   *message;

      if (object == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages[%u]: must be an object", i);
          return NULL;
        }
      if (g_strcmp0 (role, "user") == 0)
        message = lctl_ir_message_new (LCTL_IR_ROLE_USER);
      else if (g_strcmp0 (role, "assistant") == 0)
        message = lctl_ir_message_new (LCTL_IR_ROLE_ASSISTANT);
      else if (g_strcmp0 (role, "system") == 0)
        message = lctl_ir_message_new (LCTL_IR_ROLE_SYSTEM);
      else
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages[%u].role: must be \"user\", \"assistant\" or \"system\"", i);
          return NULL;
        }
      g_ptr_array_add (request->messages, message);
      if (content == NULL)
        {
          g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s: required", where);
          return NULL;
        }
      if (!parse_blocks (content, message->parts, where, error))
        return NULL;
    }

  if (!parse_tools (root, request, error))
    return NULL;
  parse_tool_choice (root, request);
  parse_thinking (root, request);
  parse_format (root, request);

  if (lctl_json_member (root, "max_tokens") != NULL && !lctl_json_int (root, "max_tokens", &request->max_tokens))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "max_tokens: must be an integer");
      return NULL;
    }
  if (lctl_json_number (root, "temperature", &number))
    request->temperature = number;
  if (lctl_json_number (root, "top_p", &number))
    request->top_p = number;
  if (lctl_json_number (root, "top_k", &number))
    request->top_k = (int) CLAMP (number, 0, G_MAXINT);
  stop = lctl_json_array (root, "stop_sequences");
  if (stop != NULL)
    {
      GPtrArray *strv = g_ptr_array_new ();

      for (unsigned i = 0; i < json_array_get_length (stop); i++)
        {
          JsonNode *element = json_array_get_element (stop, i);

          if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
            g_ptr_array_add (strv, g_strdup (json_node_get_string (element)));
        }
      g_ptr_array_add (strv, NULL);
      request->stop = (char **) g_ptr_array_free (strv, FALSE);
    }
  request->stream = lctl_json_bool (root, "stream") == 1;
  request->user = g_strdup (lctl_json_string (lctl_json_object (root, "metadata"), "user_id"));

  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    if (!is_modeled (l->data))
      json_object_set_member (request->extras, l->data, json_node_copy (json_object_get_member (root, l->data)));

  /* output_config's effort and format are modelled; whatever else it
   * holds stays an extra. */
  {
    JsonObject *output_config = lctl_json_object (request->extras, "output_config");

    if (output_config != NULL)
      {
        json_object_remove_member (output_config, "effort");
        json_object_remove_member (output_config, "format");
        if (json_object_get_size (output_config) == 0)
          json_object_remove_member (request->extras, "output_config");
      }
  }

  return g_steal_pointer (&request);
}

/* ---- Building ---- */

static JsonNode *
parse_arguments (const char *arguments)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (arguments != NULL && *arguments != '\0' && json_parser_load_from_data (parser, arguments, -1, NULL))
    {
      JsonNode *root = json_parser_get_root (parser);

      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        return json_node_copy (root);
    }
  return lctl_json_node_new_object (json_object_new ());
}

static JsonObject *build_block (const LctlIrPart *part,
                                LctlDialect       source,
                                gboolean          for_request);

static JsonArray *
build_blocks (GPtrArray  *parts,
              LctlDialect source,
              gboolean    for_request)
{
  JsonArray *array = json_array_new ();

  for (unsigned i = 0; i < parts->len; i++)
    {
      JsonObject *block = build_block (parts->pdata[i], source, for_request);

      if (block != NULL)
        json_array_add_object_element (array, block);
    }
  return array;
}

static JsonObject *
build_image_block (const LctlIrPart *part)
{
  JsonObject *block = json_object_new ();
  JsonObject *src = json_object_new ();

  json_object_set_string_member (block, "type", "image");
  if (part->data != NULL)
    {
      json_object_set_string_member (src, "type", "base64");
      json_object_set_string_member (src, "media_type", part->media_type ? part->media_type : "image/png");
      json_object_set_string_member (src, "data", part->data);
    }
  else
    {
      json_object_set_string_member (src, "type", "url");
      json_object_set_string_member (src, "url", part->url ? part->url : "");
    }
  json_object_set_object_member (block, "source", src);
  return block;
}

/* @for_request: thinking without a signature cannot be sent back to
 * Anthropic (it verifies signatures), but a client may well be shown it. */
static JsonObject *
build_block (const LctlIrPart *part,
             LctlDialect       source,
             gboolean          for_request)
{
  JsonObject      *block = NULL;
  g_autofree char *id = NULL;

  switch (part->kind)
    {
    case LCTL_IR_PART_TEXT:
      /* The API rejects empty text blocks. */
      if (part->text == NULL || *part->text == '\0')
        return NULL;
      block = json_object_new ();
      json_object_set_string_member (block, "type", "text");
      json_object_set_string_member (block, "text", part->text);
      if (part->extra != NULL && lctl_json_member (part->extra, "citations") != NULL && source == LCTL_DIALECT_ANTHROPIC)
        json_object_set_member (block, "citations", json_node_copy (lctl_json_member (part->extra, "citations")));
      break;
    case LCTL_IR_PART_IMAGE:
      block = build_image_block (part);
      break;
    case LCTL_IR_PART_TOOL_CALL:
      block = json_object_new ();
      id = lctl_anthropic_sanitize_tool_id (part->id);
      json_object_set_string_member (block, "type", "tool_use");
      json_object_set_string_member (block, "id", id);
      json_object_set_string_member (block, "name", part->name ? part->name : "");
      json_object_set_member (block, "input", parse_arguments (part->arguments));
      break;
    case LCTL_IR_PART_TOOL_RESULT:
      block = json_object_new ();
      id = lctl_anthropic_sanitize_tool_id (part->id);
      json_object_set_string_member (block, "type", "tool_result");
      json_object_set_string_member (block, "tool_use_id", id);
      if (part->content != NULL)
        json_object_set_array_member (block, "content", build_blocks (part->content, source, for_request));
      else
        json_object_set_string_member (block, "content", part->text ? part->text : "");
      if (part->is_error)
        json_object_set_boolean_member (block, "is_error", TRUE);
      break;
    case LCTL_IR_PART_THINKING:
      if (for_request && (part->signature == NULL || *part->signature == '\0'))
        return NULL;
      block = json_object_new ();
      json_object_set_string_member (block, "type", "thinking");
      json_object_set_string_member (block, "thinking", part->text ? part->text : "");
      json_object_set_string_member (block, "signature", part->signature ? part->signature : "");
      break;
    case LCTL_IR_PART_REDACTED_THINKING:
      block = json_object_new ();
      json_object_set_string_member (block, "type", "redacted_thinking");
      json_object_set_string_member (block, "data", part->text ? part->text : "");
      break;
    case LCTL_IR_PART_RAW:
      if (part->raw_dialect == LCTL_DIALECT_ANTHROPIC && part->raw != NULL && JSON_NODE_HOLDS_OBJECT (part->raw))
        return json_object_ref (json_node_get_object (part->raw));
      return NULL;
    case LCTL_IR_PART_ENCRYPTED_REASONING:
    default:
      return NULL;
    }

  if (part->cache_control != NULL)
    json_object_set_member (block, "cache_control", json_node_copy (part->cache_control));
  return block;
}

static const char *
wire_role (const LctlIrRequest *request,
           LctlIrRole           role)
{
  switch (role)
    {
    case LCTL_IR_ROLE_ASSISTANT:
      return "assistant";
    case LCTL_IR_ROLE_SYSTEM:
      /* Only Claude Code's own mid-conversation-system beta knows this
       * role; from other clients it becomes user text. */
      return request->dialect == LCTL_DIALECT_ANTHROPIC ? "system" : "user";
    case LCTL_IR_ROLE_USER:
    case LCTL_IR_ROLE_TOOL:
    default:
      return "user";
    }
}

static JsonArray *
build_messages (const LctlIrRequest *request)
{
  JsonArray  *messages = json_array_new ();
  JsonObject *previous = NULL;
  const char *previous_role = NULL;
  gboolean    merge = request->dialect != LCTL_DIALECT_ANTHROPIC;

  for (unsigned i = 0; i < request->messages->len; i++)
    {
      const LctlIrMessage *message = request->messages->pdata[i];
      const char          *role = wire_role (request, message->role);
      JsonArray           *blocks = build_blocks (message->parts, request->dialect, TRUE);

      if (json_array_get_length (blocks) == 0)
        {
          json_array_unref (blocks);
          continue;
        }
      /* OpenAI's separate tool messages, and a user message after them,
       * become one user turn: Anthropic wants roles to alternate and tool
       * results at the start of the turn after the tool calls. */
      if (merge && previous != NULL && g_str_equal (previous_role, role))
        {
          JsonArray *into = json_object_get_array_member (previous, "content");

          for (unsigned j = 0; j < json_array_get_length (blocks); j++)
            json_array_add_element (into, json_node_copy (json_array_get_element (blocks, j)));
          json_array_unref (blocks);
          continue;
        }
      previous = json_object_new ();
      previous_role = role;
      json_object_set_string_member (previous, "role", role);
      json_object_set_array_member (previous, "content", blocks);
      json_array_add_object_element (messages, previous);
    }
  return messages;
}

static JsonArray *
build_tools (const LctlIrRequest    *request,
             const LctlBuildOptions *options)
{
  JsonArray *tools = json_array_new ();

  for (unsigned i = 0; i < request->tools->len; i++)
    {
      const LctlIrTool *tool = request->tools->pdata[i];
      JsonObject       *object;

      if (tool->raw != NULL)
        {
          if (tool->raw_dialect == LCTL_DIALECT_ANTHROPIC)
            json_array_add_element (tools, json_node_copy (tool->raw));
          else
            lctl_build_options_drop (options, tool->type ? tool->type : "tools");
          continue;
        }
      object = json_object_new ();
      json_object_set_string_member (object, "name", tool->name ? tool->name : "");
      if (tool->description != NULL)
        json_object_set_string_member (object, "description", tool->description);
      if (tool->parameters != NULL)
        json_object_set_member (object, "input_schema", json_node_copy (tool->parameters));
      else
        {
          JsonObject *schema = json_object_new ();

          json_object_set_string_member (schema, "type", "object");
          json_object_set_object_member (schema, "properties", json_object_new ());
          json_object_set_object_member (object, "input_schema", schema);
        }
      if (tool->cache_control != NULL)
        json_object_set_member (object, "cache_control", json_node_copy (tool->cache_control));
      if (tool->strict == 1 && request->dialect == LCTL_DIALECT_ANTHROPIC)
        json_object_set_boolean_member (object, "strict", TRUE);
      json_array_add_object_element (tools, object);
    }
  return tools;
}

static gint64
budget_for_effort (const char *effort)
{
  if (effort == NULL)
    return BUDGET_MEDIUM;
  if (g_str_equal (effort, "high") || g_str_equal (effort, "max") || g_str_equal (effort, "xhigh"))
    return BUDGET_HIGH;
  if (g_str_equal (effort, "low") || g_str_equal (effort, "minimal"))
    return BUDGET_LOW;
  return BUDGET_MEDIUM;
}

static JsonObject *
ensure_object_member (JsonObject *object,
                      const char *member)
{
  JsonObject *child = lctl_json_object (object, member);

  if (child == NULL)
    {
      child = json_object_new ();
      json_object_set_object_member (object, member, child);
    }
  return child;
}

JsonNode *
lctl_anthropic_build_request (const LctlIrRequest    *request,
                              const char             *model,
                              const LctlBuildOptions *options,
                              GError                **error)
{
  JsonObject      *body = json_object_new ();
  JsonNode        *root = lctl_json_node_new_object (body);
  gboolean         same = request->dialect == LCTL_DIALECT_ANTHROPIC;
  gboolean         thinking_on = request->thinking.mode == LCTL_IR_THINKING_ENABLED || request->thinking.mode == LCTL_IR_THINKING_ADAPTIVE;
  g_autofree char *instruction = NULL;
  gint64           max_tokens = request->max_tokens;
  gint64           budget = 0;

  /* Fields only an Anthropic client can have sent come back as they were;
   * the modelled fields below overwrite theirs. */
  if (same)
    {
      g_autoptr (GList) members = json_object_get_members (request->extras);

      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (body, l->data, json_node_copy (json_object_get_member (request->extras, l->data)));
    }
  else if (json_object_get_size (request->extras) > 0)
    {
      g_autoptr (GList) members = json_object_get_members (request->extras);

      for (GList *l = members; l != NULL; l = l->next)
        lctl_build_options_drop (options, l->data);
    }

  json_object_set_string_member (body, "model", model ? model : request->model);

  if (request->response_format.type == LCTL_IR_FORMAT_JSON_OBJECT || (request->response_format.type == LCTL_IR_FORMAT_JSON_SCHEMA && options != NULL && options->no_json_schema))
    instruction = lctl_dialect_json_instruction (request);

  if (request->system->len > 0 || instruction != NULL)
    {
      JsonArray *system = build_blocks (request->system, request->dialect, TRUE);

      if (instruction != NULL)
        {
          JsonObject *block = json_object_new ();

          json_object_set_string_member (block, "type", "text");
          json_object_set_string_member (block, "text", instruction);
          json_array_add_object_element (system, block);
        }
      json_object_set_array_member (body, "system", system);
    }

  json_object_set_array_member (body, "messages", build_messages (request));

  if (request->tools->len > 0)
    {
      JsonArray *tools = build_tools (request, options);

      if (json_array_get_length (tools) > 0)
        json_object_set_array_member (body, "tools", tools);
      else
        json_array_unref (tools);
    }

  if (json_object_has_member (body, "tools") && (request->tool_choice.mode != LCTL_IR_TOOL_CHOICE_UNSET || request->tool_choice.parallel == 0))
    {
      JsonObject *choice = json_object_new ();

      switch (request->tool_choice.mode)
        {
        case LCTL_IR_TOOL_CHOICE_ANY:
          json_object_set_string_member (choice, "type", "any");
          break;
        case LCTL_IR_TOOL_CHOICE_NONE:
          json_object_set_string_member (choice, "type", "none");
          break;
        case LCTL_IR_TOOL_CHOICE_TOOL:
          json_object_set_string_member (choice, "type", "tool");
          json_object_set_string_member (choice, "name", request->tool_choice.name ? request->tool_choice.name : "");
          break;
        case LCTL_IR_TOOL_CHOICE_AUTO:
        case LCTL_IR_TOOL_CHOICE_UNSET:
        default:
          json_object_set_string_member (choice, "type", "auto");
          break;
        }
      if (request->tool_choice.parallel == 0 && request->tool_choice.mode != LCTL_IR_TOOL_CHOICE_NONE)
        json_object_set_boolean_member (choice, "disable_parallel_tool_use", TRUE);
      json_object_set_object_member (body, "tool_choice", choice);
    }
  else
    json_object_remove_member (body, "tool_choice");

  /* Thinking. */
  if (request->thinking.mode == LCTL_IR_THINKING_ENABLED)
    {
      JsonObject *thinking = json_object_new ();

      budget = request->thinking.budget_tokens > 0 ? request->thinking.budget_tokens : budget_for_effort (request->thinking.effort);
      budget = MAX (budget, 1024);
      json_object_set_string_member (thinking, "type", "enabled");
      json_object_set_int_member (thinking, "budget_tokens", budget);
      json_object_set_object_member (body, "thinking", thinking);
    }
  else if (request->thinking.mode == LCTL_IR_THINKING_ADAPTIVE || request->thinking.mode == LCTL_IR_THINKING_DISABLED)
    {
      JsonObject *thinking = json_object_new ();

      json_object_set_string_member (thinking, "type", request->thinking.mode == LCTL_IR_THINKING_ADAPTIVE ? "adaptive" : "disabled");
      json_object_set_object_member (body, "thinking", thinking);
    }
  if (request->thinking.effort != NULL && (same || request->thinking.mode == LCTL_IR_THINKING_ADAPTIVE))
    json_object_set_string_member (ensure_object_member (body, "output_config"), "effort", request->thinking.effort);

  if (max_tokens <= 0)
    max_tokens = budget > 0 ? budget + DEFAULT_MAX_TOKENS : DEFAULT_MAX_TOKENS;
  else if (!same && budget > 0 && max_tokens <= budget)
    /* OpenAI's max_completion_tokens counts reasoning too, but a client's
     * budget for visible text should not be eaten by a budget we chose. */
    max_tokens = budget + max_tokens;
  json_object_set_int_member (body, "max_tokens", max_tokens);

  /* Sampling: only what the client sent (anthropic-version 2026-10-21
   * rejects these fields), and what extended thinking allows. */
  if (!isnan (request->temperature))
    {
      /* OpenAI's range is 0–2, Anthropic's 0–1. */
      double temperature = same ? request->temperature : CLAMP (request->temperature, 0.0, 1.0);

      if (!thinking_on || temperature == 1.0 || same)
        json_object_set_double_member (body, "temperature", temperature);
      else
        lctl_build_options_drop (options, "temperature");
    }
  if (!isnan (request->top_p))
    {
      /* Current Claude models refuse temperature and top_p together: a
       * deliberate mapping, not a parameter the upstream lacks. */
      if (!same && json_object_has_member (body, "temperature"))
        ;
      else if (!thinking_on || request->top_p >= 0.95 || same)
        json_object_set_double_member (body, "top_p", request->top_p);
      else
        lctl_build_options_drop (options, "top_p");
    }
  if (request->top_k >= 0)
    {
      if (!thinking_on || same)
        json_object_set_int_member (body, "top_k", request->top_k);
      else
        lctl_build_options_drop (options, "top_k");
    }
  if (request->stop != NULL && request->stop[0] != NULL)
    {
      JsonArray *stop = json_array_new ();

      for (unsigned i = 0; request->stop[i] != NULL; i++)
        json_array_add_string_element (stop, request->stop[i]);
      json_object_set_array_member (body, "stop_sequences", stop);
    }
  if (request->has_seed)
    lctl_build_options_drop (options, "seed");
  if (request->user != NULL)
    json_object_set_string_member (ensure_object_member (body, "metadata"), "user_id", request->user);
  if (request->stream)
    json_object_set_boolean_member (body, "stream", TRUE);
  else
    json_object_remove_member (body, "stream");

  if (request->response_format.type == LCTL_IR_FORMAT_JSON_SCHEMA && (options == NULL || !options->no_json_schema))
    {
      JsonObject *format = json_object_new ();

      json_object_set_string_member (format, "type", "json_schema");
      json_object_set_member (format, "schema", request->response_format.schema ? json_node_copy (request->response_format.schema) : lctl_json_node_new_object (json_object_new ()));
      /* The beta spelling stays if that is what the client used. */
      if (same && json_object_has_member (body, "output_format"))
        json_object_set_object_member (body, "output_format", format);
      else
        json_object_set_object_member (ensure_object_member (body, "output_config"), "format", format);
    }
  if (same && lctl_json_member (request->extras, "output_format") == NULL)
    json_object_remove_member (body, "output_format");

  if (request->upstream_params != NULL)
    lctl_json_merge_missing (body, request->upstream_params);
  /* Keys meant for an OpenAI upstream in the deployment's defaults. */
  json_object_remove_member (body, "reasoning_effort");
  json_object_remove_member (body, "max_completion_tokens");
  return root;
}

/* ---- Responses ---- */

static void
parse_usage (JsonObject  *object,
             LctlIrUsage *usage)
{
  if (object == NULL)
    return;
  lctl_json_int (object, "input_tokens", &usage->input_tokens);
  lctl_json_int (object, "output_tokens", &usage->output_tokens);
  lctl_json_int (object, "cache_read_input_tokens", &usage->cache_read_tokens);
  lctl_json_int (object, "cache_creation_input_tokens", &usage->cache_creation_tokens);
}

static JsonObject *
build_usage (const LctlIrUsage *usage,
             gboolean           with_output)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "input_tokens", MAX (usage->input_tokens, 0));
  json_object_set_int_member (object, "cache_creation_input_tokens", MAX (usage->cache_creation_tokens, 0));
  json_object_set_int_member (object, "cache_read_input_tokens", MAX (usage->cache_read_tokens, 0));
  if (with_output)
    json_object_set_int_member (object, "output_tokens", MAX (usage->output_tokens, 0));
  return object;
}

LctlIrResponse *
lctl_anthropic_parse_response (JsonNode *root_node,
                               GError  **error)
{
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();
  JsonObject *root = json_node_get_object (root_node);
  JsonNode   *content = lctl_json_member (root, "content");

  if (g_strcmp0 (lctl_json_string (root, "type"), "error") == 0)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_UPSTREAM, "The upstream answered with an error: %s",
                   lctl_json_string (lctl_json_object (root, "error"), "message") ?: "unknown");
      return NULL;
    }
  response->dialect = LCTL_DIALECT_ANTHROPIC;
  response->id = g_strdup (lctl_json_string (root, "id"));
  response->model = g_strdup (lctl_json_string (root, "model"));
  if (content != NULL && !parse_blocks (content, response->parts, "content", error))
    {
      g_prefix_error (error, "The upstream response is malformed: ");
      return NULL;
    }
  response->stop_reason = lctl_anthropic_stop_reason_from_string (lctl_json_string (root, "stop_reason"));
  response->stop_sequence = g_strdup (lctl_json_string (root, "stop_sequence"));
  parse_usage (lctl_json_object (root, "usage"), &response->usage);
  return g_steal_pointer (&response);
}

JsonNode *
lctl_anthropic_build_response (const LctlIrResponse *response,
                               const char           *model)
{
  JsonObject      *body = json_object_new ();
  g_autofree char *id = response->id ? g_strdup (response->id) : lctl_dialect_make_id ("msg_");

  json_object_set_string_member (body, "id", id);
  json_object_set_string_member (body, "type", "message");
  json_object_set_string_member (body, "role", "assistant");
  json_object_set_string_member (body, "model", model ? model : (response->model ? response->model : ""));
  json_object_set_array_member (body, "content", build_blocks (response->parts, response->dialect, FALSE));
  json_object_set_string_member (body, "stop_reason", lctl_anthropic_stop_reason_to_string (response->stop_reason));
  if (response->stop_sequence != NULL)
    json_object_set_string_member (body, "stop_sequence", response->stop_sequence);
  else
    json_object_set_null_member (body, "stop_sequence");
  json_object_set_object_member (body, "usage", build_usage (&response->usage, TRUE));
  return lctl_json_node_new_object (body);
}

/* ---- Errors ---- */

static const struct
{
  LctlIrErrorType type;
  const char     *name;
} error_names[] = {
  { LCTL_IR_ERROR_INVALID_REQUEST, "invalid_request_error" },
  { LCTL_IR_ERROR_AUTHENTICATION, "authentication_error" },
  { LCTL_IR_ERROR_BILLING, "billing_error" },
  { LCTL_IR_ERROR_PERMISSION, "permission_error" },
  { LCTL_IR_ERROR_NOT_FOUND, "not_found_error" },
  { LCTL_IR_ERROR_REQUEST_TOO_LARGE, "request_too_large" },
  { LCTL_IR_ERROR_RATE_LIMIT, "rate_limit_error" },
  { LCTL_IR_ERROR_API_ERROR, "api_error" },
  { LCTL_IR_ERROR_TIMEOUT, "timeout_error" },
  { LCTL_IR_ERROR_OVERLOADED, "overloaded_error" },
  /* Anthropic has no own types for these; it says invalid_request_error. */
  { LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED, "invalid_request_error" },
  { LCTL_IR_ERROR_CONTENT_POLICY, "invalid_request_error" },
};

LctlIrError *
lctl_anthropic_parse_error (unsigned    status,
                            JsonNode   *root,
                            const char *text)
{
  JsonObject     *object = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonObject     *inner = lctl_json_object (object, "error");
  const char     *type = lctl_json_string (inner, "type");
  const char     *message = lctl_json_string (inner, "message");
  LctlIrErrorType ir_type = lctl_ir_error_type_from_status (status);
  gboolean        typed = FALSE;
  LctlIrError    *error;

  if (message == NULL)
    message = lctl_json_string (object, "message");
  if (message == NULL && inner == NULL)
    message = text;

  if (type != NULL)
    for (unsigned i = 0; i < G_N_ELEMENTS (error_names) && !typed; i++)
      if (g_str_equal (type, error_names[i].name))
        {
          ir_type = error_names[i].type;
          typed = TRUE;
        }
  if (ir_type == LCTL_IR_ERROR_INVALID_REQUEST && lctl_dialect_text_means_context_window (message))
    ir_type = LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED;
  else if (ir_type == LCTL_IR_ERROR_INVALID_REQUEST && lctl_dialect_text_means_content_policy (message))
    ir_type = LCTL_IR_ERROR_CONTENT_POLICY;

  /* In-stream errors arrive with the stream's 200. */
  if (status < 400)
    status = 0;
  error = lctl_ir_error_new (ir_type, status, message && *message ? message : NULL);
  error->code = g_strdup (type);
  return error;
}

JsonNode *
lctl_anthropic_build_error (const LctlIrError *error,
                            unsigned          *status)
{
  JsonObject      *body = json_object_new ();
  JsonObject      *inner = json_object_new ();
  const char      *type = "api_error";
  g_autofree char *message = NULL;

  for (unsigned i = 0; i < G_N_ELEMENTS (error_names); i++)
    if (error_names[i].type == error->type)
      {
        type = error_names[i].name;
        break;
      }
  /* Claude Code starts auto-compaction on this exact phrase. */
  if (error->type == LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED && !lctl_dialect_text_means_context_window (error->message))
    message = g_strdup_printf ("prompt is too long: %s", error->message ? error->message : "");
  else if (error->type == LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED && error->message && strstr (error->message, "prompt is too long") == NULL)
    message = g_strdup_printf ("prompt is too long: %s", error->message);
  else
    message = g_strdup (error->message ? error->message : type);

  json_object_set_string_member (body, "type", "error");
  json_object_set_string_member (inner, "type", type);
  json_object_set_string_member (inner, "message", message);
  json_object_set_object_member (body, "error", inner);
  if (status != NULL)
    *status = error->status ? error->status : lctl_ir_error_type_default_status (error->type);
  return lctl_json_node_new_object (body);
}

/* ---- Stream decoder ---- */

struct _LctlAnthropicDecoder
{
  gboolean         started;
  gboolean         done;
  int              next_index;
  GArray          *index_map;  /* Anthropic block index → IR part index, -1 unknown */
  int              open_index; /* IR index of the open block, -1 none */
  LctlIrUsage      usage;
  LctlIrStopReason stop_reason;
  char            *stop_sequence;
};

LctlAnthropicDecoder *
lctl_anthropic_decoder_new (void)
{
  LctlAnthropicDecoder *decoder = g_new0 (LctlAnthropicDecoder, 1);

  decoder->index_map = g_array_new (FALSE, FALSE, sizeof (int));
  decoder->open_index = -1;
  lctl_ir_usage_init (&decoder->usage);
  return decoder;
}

void
lctl_anthropic_decoder_free (LctlAnthropicDecoder *decoder)
{
  if (decoder == NULL)
    return;
  g_array_unref (decoder->index_map);
  g_free (decoder->stop_sequence);
  g_free (decoder);
}

gboolean
lctl_anthropic_decoder_is_done (LctlAnthropicDecoder *decoder)
{
  return decoder->done;
}

static int
map_index (LctlAnthropicDecoder *decoder,
           JsonObject           *object)
{
  gint64 wire = -1;

  if (!lctl_json_int (object, "index", &wire) || wire < 0 || wire >= (gint64) decoder->index_map->len)
    return decoder->open_index;
  return g_array_index (decoder->index_map, int, wire);
}

static void
push (GPtrArray   *events,
      LctlIrEvent *event)
{
  g_ptr_array_add (events, event);
}

static void
push_delta (GPtrArray      *events,
            LctlIrEventType type,
            int             index,
            const char     *text)
{
  LctlIrEvent *event;

  if (text == NULL || index < 0)
    return;
  event = lctl_ir_event_new (type);
  event->index = index;
  event->text = g_strdup (text);
  push (events, event);
}

static void
push_message_start (LctlAnthropicDecoder *decoder,
                    GPtrArray            *events,
                    const char           *id,
                    const char           *model)
{
  LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_MESSAGE_START);

  decoder->started = TRUE;
  event->id = g_strdup (id);
  event->model = g_strdup (model);
  event->usage = decoder->usage;
  push (events, event);
}

static void
close_open (LctlAnthropicDecoder *decoder,
            GPtrArray            *events)
{
  LctlIrEvent *event;

  if (decoder->open_index < 0)
    return;
  event = lctl_ir_event_new (LCTL_IR_EVENT_PART_STOP);
  event->index = decoder->open_index;
  push (events, event);
  decoder->open_index = -1;
}

static void
push_message_stop (LctlAnthropicDecoder *decoder,
                   GPtrArray            *events)
{
  LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_MESSAGE_STOP);

  close_open (decoder, events);
  event->index = -1;
  event->stop_reason = decoder->stop_reason != LCTL_IR_STOP_NONE ? decoder->stop_reason : LCTL_IR_STOP_END_TURN;
  event->stop_sequence = g_strdup (decoder->stop_sequence);
  event->usage = decoder->usage;
  push (events, event);
  decoder->done = TRUE;
}

gboolean
lctl_anthropic_decoder_feed (LctlAnthropicDecoder *decoder,
                             const char           *event_name,
                             const char           *data,
                             GPtrArray            *events,
                             GError              **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  const char *type;
  g_autoptr (GError) local_error = NULL;

  if (decoder->done)
    return TRUE;
  root = lctl_json_parse (data, -1, "An upstream stream event", &local_error);
  if (root == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  object = json_node_get_object (root);
  type = lctl_json_string (object, "type");
  if (type == NULL)
    type = event_name;
  if (type == NULL)
    return TRUE;

  if (g_str_equal (type, "message_start"))
    {
      JsonObject *message = lctl_json_object (object, "message");

      parse_usage (lctl_json_object (message, "usage"), &decoder->usage);
      push_message_start (decoder, events, lctl_json_string (message, "id"), lctl_json_string (message, "model"));
    }
  else if (g_str_equal (type, "content_block_start"))
    {
      JsonNode *block_node = lctl_json_member (object, "content_block");
      g_autoptr (GError) block_error = NULL;
      LctlIrPart      *part = block_node ? parse_block (block_node, "content_block", &block_error) : NULL;
      gint64           wire = -1;
      LctlIrEvent     *event;
      int              index;
      g_autofree char *initial = NULL;

      if (part == NULL)
        {
          /* A block we cannot read is skipped rather than the stream. */
          part = lctl_ir_part_new (LCTL_IR_PART_RAW);
          part->raw = block_node ? json_node_copy (block_node) : json_node_new (JSON_NODE_NULL);
          part->raw_dialect = LCTL_DIALECT_ANTHROPIC;
        }
      if (!decoder->started)
        push_message_start (decoder, events, NULL, NULL);
      close_open (decoder, events);
      index = decoder->next_index++;
      lctl_json_int (object, "index", &wire);
      if (wire >= 0 && wire < 4096)
        {
          int unknown = -1;

          while ((gint64) decoder->index_map->len <= wire)
            g_array_append_val (decoder->index_map, unknown);
          g_array_index (decoder->index_map, int, wire) = index;
        }
      /* Content arrives as deltas; a start with content is replayed as one. */
      if (part->kind == LCTL_IR_PART_TEXT || part->kind == LCTL_IR_PART_THINKING)
        {
          initial = g_steal_pointer (&part->text);
          g_clear_pointer (&part->signature, g_free);
        }
      if (part->kind == LCTL_IR_PART_TOOL_CALL)
        {
          /* input is always {} at the start; the JSON comes as deltas. */
          if (g_strcmp0 (part->arguments, "{}") == 0)
            g_clear_pointer (&part->arguments, g_free);
          else
            initial = g_steal_pointer (&part->arguments);
        }
      event = lctl_ir_event_new (LCTL_IR_EVENT_PART_START);
      event->index = index;
      event->part = part;
      push (events, event);
      decoder->open_index = index;
      if (initial != NULL && *initial != '\0')
        push_delta (events,
                    part->kind == LCTL_IR_PART_TEXT       ? LCTL_IR_EVENT_TEXT_DELTA
                    : part->kind == LCTL_IR_PART_THINKING ? LCTL_IR_EVENT_THINKING_DELTA
                                                          : LCTL_IR_EVENT_TOOL_ARGS_DELTA,
                    index, initial);
    }
  else if (g_str_equal (type, "content_block_delta"))
    {
      JsonObject *delta = lctl_json_object (object, "delta");
      const char *delta_type = lctl_json_string (delta, "type");
      int         index = map_index (decoder, object);

      if (g_strcmp0 (delta_type, "text_delta") == 0)
        push_delta (events, LCTL_IR_EVENT_TEXT_DELTA, index, lctl_json_string (delta, "text"));
      else if (g_strcmp0 (delta_type, "input_json_delta") == 0)
        push_delta (events, LCTL_IR_EVENT_TOOL_ARGS_DELTA, index, lctl_json_string (delta, "partial_json"));
      else if (g_strcmp0 (delta_type, "thinking_delta") == 0)
        push_delta (events, LCTL_IR_EVENT_THINKING_DELTA, index, lctl_json_string (delta, "thinking"));
      else if (g_strcmp0 (delta_type, "signature_delta") == 0)
        push_delta (events, LCTL_IR_EVENT_SIGNATURE_DELTA, index, lctl_json_string (delta, "signature"));
    }
  else if (g_str_equal (type, "content_block_stop"))
    {
      int index = map_index (decoder, object);

      if (index >= 0 && index == decoder->open_index)
        close_open (decoder, events);
    }
  else if (g_str_equal (type, "message_delta"))
    {
      JsonObject  *delta = lctl_json_object (object, "delta");
      const char  *reason = lctl_json_string (delta, "stop_reason");
      LctlIrEvent *event;

      if (reason != NULL)
        decoder->stop_reason = lctl_anthropic_stop_reason_from_string (reason);
      if (lctl_json_string (delta, "stop_sequence") != NULL)
        {
          g_free (decoder->stop_sequence);
          decoder->stop_sequence = g_strdup (lctl_json_string (delta, "stop_sequence"));
        }
      parse_usage (lctl_json_object (object, "usage"), &decoder->usage);
      event = lctl_ir_event_new (LCTL_IR_EVENT_USAGE);
      event->index = -1;
      event->usage = decoder->usage;
      push (events, event);
    }
  else if (g_str_equal (type, "message_stop"))
    {
      if (!decoder->started)
        push_message_start (decoder, events, NULL, NULL);
      push_message_stop (decoder, events);
    }
  else if (g_str_equal (type, "ping"))
    {
      LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_PING);

      event->index = -1;
      push (events, event);
    }
  else if (g_str_equal (type, "error"))
    {
      LctlIrEvent *event = lctl_ir_event_new (LCTL_IR_EVENT_ERROR);

      event->index = -1;
      event->error = lctl_anthropic_parse_error (0, root, NULL);
      push (events, event);
      decoder->done = TRUE;
    }
  return TRUE;
}

void
lctl_anthropic_decoder_finish (LctlAnthropicDecoder *decoder,
                               GPtrArray            *events)
{
  LctlIrEvent *event;

  if (decoder->done)
    return;
  if (decoder->stop_reason != LCTL_IR_STOP_NONE)
    {
      /* Everything came but message_stop: complete it. */
      push_message_stop (decoder, events);
      return;
    }
  event = lctl_ir_event_new (LCTL_IR_EVENT_ERROR);
  event->index = -1;
  event->error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, 502, "The upstream stream ended before the message was complete");
  push (events, event);
  decoder->done = TRUE;
}

/* ---- Stream encoder ---- */

typedef enum
{
  BLOCK_NONE,
  BLOCK_TEXT,
  BLOCK_THINKING,
  BLOCK_TOOL,
  BLOCK_OTHER,
} BlockKind;

struct _LctlAnthropicEncoder
{
  char       *model;
  char       *id;
  gboolean    started;
  gboolean    pinged;
  gboolean    done;
  int         next_block;
  int         open_block; /* wire index of the open block, -1 none */
  BlockKind   open_kind;
  int         open_ir_index; /* IR index that opened it, -1 for implicit blocks */
  GHashTable *skipped;       /* IR indices of parts not representable here */
  LctlIrUsage usage;
};

LctlAnthropicEncoder *
lctl_anthropic_encoder_new (const char *model)
{
  LctlAnthropicEncoder *encoder = g_new0 (LctlAnthropicEncoder, 1);

  encoder->model = g_strdup (model);
  encoder->open_block = -1;
  encoder->open_ir_index = -1;
  encoder->skipped = g_hash_table_new (NULL, NULL);
  lctl_ir_usage_init (&encoder->usage);
  return encoder;
}

void
lctl_anthropic_encoder_free (LctlAnthropicEncoder *encoder)
{
  if (encoder == NULL)
    return;
  g_free (encoder->model);
  g_free (encoder->id);
  g_hash_table_unref (encoder->skipped);
  g_free (encoder);
}

gboolean
lctl_anthropic_encoder_is_done (LctlAnthropicEncoder *encoder)
{
  return encoder->done;
}

static void
write_event (GString    *out,
             const char *name,
             JsonObject *object)
{
  g_autoptr (JsonNode) node = lctl_json_node_new_object (object);
  g_autofree char *data = lctl_json_to_string (node);

  lctl_sse_append_event (out, name, data);
}

static void
encoder_start (LctlAnthropicEncoder *encoder,
               const LctlIrEvent    *event,
               GString              *out)
{
  JsonObject *object = json_object_new ();
  JsonObject *message = json_object_new ();
  LctlIrUsage usage = encoder->usage;

  if (event != NULL)
    lctl_ir_usage_merge (&usage, &event->usage);
  if (encoder->id == NULL)
    encoder->id = event && event->id ? g_strdup (event->id) : lctl_dialect_make_id ("msg_");
  if (encoder->model == NULL)
    encoder->model = g_strdup (event && event->model ? event->model : "");
  encoder->usage = usage;

  json_object_set_string_member (message, "id", encoder->id);
  json_object_set_string_member (message, "type", "message");
  json_object_set_string_member (message, "role", "assistant");
  json_object_set_string_member (message, "model", encoder->model);
  json_object_set_array_member (message, "content", json_array_new ());
  json_object_set_null_member (message, "stop_reason");
  json_object_set_null_member (message, "stop_sequence");
  {
    JsonObject *u = build_usage (&usage, FALSE);

    json_object_set_int_member (u, "output_tokens", MAX (usage.output_tokens, 1));
    json_object_set_object_member (message, "usage", u);
  }
  json_object_set_string_member (object, "type", "message_start");
  json_object_set_object_member (object, "message", message);
  write_event (out, "message_start", object);
  encoder->started = TRUE;
}

static void
encoder_close_block (LctlAnthropicEncoder *encoder,
                     GString              *out)
{
  JsonObject *object;

  if (encoder->open_block < 0)
    return;
  object = json_object_new ();
  json_object_set_string_member (object, "type", "content_block_stop");
  json_object_set_int_member (object, "index", encoder->open_block);
  write_event (out, "content_block_stop", object);
  encoder->open_block = -1;
  encoder->open_kind = BLOCK_NONE;
  encoder->open_ir_index = -1;
}

static void
encoder_open_block (LctlAnthropicEncoder *encoder,
                    JsonObject           *block,
                    BlockKind             kind,
                    int                   ir_index,
                    GString              *out)
{
  JsonObject *object = json_object_new ();

  encoder_close_block (encoder, out);
  encoder->open_block = encoder->next_block++;
  encoder->open_kind = kind;
  encoder->open_ir_index = ir_index;
  json_object_set_string_member (object, "type", "content_block_start");
  json_object_set_int_member (object, "index", encoder->open_block);
  json_object_set_object_member (object, "content_block", block);
  write_event (out, "content_block_start", object);
  if (!encoder->pinged)
    {
      lctl_anthropic_encoder_ping (encoder, out);
      encoder->pinged = TRUE;
    }
}

static JsonObject *
empty_block (BlockKind kind)
{
  JsonObject *block = json_object_new ();

  if (kind == BLOCK_THINKING)
    {
      json_object_set_string_member (block, "type", "thinking");
      json_object_set_string_member (block, "thinking", "");
      json_object_set_string_member (block, "signature", "");
    }
  else
    {
      json_object_set_string_member (block, "type", "text");
      json_object_set_string_member (block, "text", "");
    }
  return block;
}

static void
encoder_delta (LctlAnthropicEncoder *encoder,
               const char           *delta_type,
               const char           *field,
               const char           *text,
               GString              *out)
{
  JsonObject *object = json_object_new ();
  JsonObject *delta = json_object_new ();

  json_object_set_string_member (delta, "type", delta_type);
  json_object_set_string_member (delta, field, text ? text : "");
  json_object_set_string_member (object, "type", "content_block_delta");
  json_object_set_int_member (object, "index", encoder->open_block);
  json_object_set_object_member (object, "delta", delta);
  write_event (out, "content_block_delta", object);
}

/* Deltas go to the block of their part; text or thinking with no fitting
 * block open gets one (some upstreams never announce their parts). */
static gboolean
encoder_route (LctlAnthropicEncoder *encoder,
               const LctlIrEvent    *event,
               BlockKind             kind,
               GString              *out)
{
  if (g_hash_table_contains (encoder->skipped, GINT_TO_POINTER (event->index)))
    return FALSE;
  if (encoder->open_block >= 0 && encoder->open_kind == kind)
    return TRUE;
  /* server_tool_use and the like stream their input as JSON deltas too. */
  if (kind == BLOCK_TOOL)
    return encoder->open_block >= 0 && encoder->open_kind == BLOCK_OTHER;
  encoder_open_block (encoder, empty_block (kind), kind, event->index, out);
  return TRUE;
}

void
lctl_anthropic_encoder_encode (LctlAnthropicEncoder *encoder,
                               const LctlIrEvent    *event,
                               GString              *out)
{
  if (encoder->done)
    return;
  if (!encoder->started && event->type != LCTL_IR_EVENT_PING && event->type != LCTL_IR_EVENT_ERROR && event->type != LCTL_IR_EVENT_USAGE)
    encoder_start (encoder, event->type == LCTL_IR_EVENT_MESSAGE_START ? event : NULL, out);

  switch (event->type)
    {
    case LCTL_IR_EVENT_MESSAGE_START:
      break;
    case LCTL_IR_EVENT_PART_START:
      {
        const LctlIrPart *part = event->part;
        JsonObject       *block = NULL;
        BlockKind         kind = BLOCK_OTHER;

        if (part == NULL || part->kind == LCTL_IR_PART_TEXT)
          {
            block = empty_block (BLOCK_TEXT);
            kind = BLOCK_TEXT;
          }
        else if (part->kind == LCTL_IR_PART_THINKING)
          {
            block = empty_block (BLOCK_THINKING);
            kind = BLOCK_THINKING;
          }
        else if (part->kind == LCTL_IR_PART_TOOL_CALL)
          {
            g_autofree char *id = lctl_anthropic_sanitize_tool_id (part->id);

            block = json_object_new ();
            json_object_set_string_member (block, "type", "tool_use");
            json_object_set_string_member (block, "id", id);
            json_object_set_string_member (block, "name", part->name ? part->name : "");
            json_object_set_object_member (block, "input", json_object_new ());
            kind = BLOCK_TOOL;
          }
        else if (part->kind == LCTL_IR_PART_REDACTED_THINKING || part->kind == LCTL_IR_PART_RAW)
          block = build_block (part, LCTL_DIALECT_ANTHROPIC, FALSE);

        if (block == NULL)
          {
            g_hash_table_add (encoder->skipped, GINT_TO_POINTER (event->index));
            break;
          }
        encoder_open_block (encoder, block, kind, event->index, out);
        if (part != NULL && part->kind == LCTL_IR_PART_TEXT && part->text && *part->text)
          encoder_delta (encoder, "text_delta", "text", part->text, out);
        if (part != NULL && part->kind == LCTL_IR_PART_THINKING && part->text && *part->text)
          encoder_delta (encoder, "thinking_delta", "thinking", part->text, out);
        if (part != NULL && part->kind == LCTL_IR_PART_TOOL_CALL && part->arguments && *part->arguments)
          encoder_delta (encoder, "input_json_delta", "partial_json", part->arguments, out);
      }
      break;
    case LCTL_IR_EVENT_TEXT_DELTA:
      if (encoder_route (encoder, event, BLOCK_TEXT, out))
        encoder_delta (encoder, "text_delta", "text", event->text, out);
      break;
    case LCTL_IR_EVENT_THINKING_DELTA:
      if (encoder_route (encoder, event, BLOCK_THINKING, out))
        encoder_delta (encoder, "thinking_delta", "thinking", event->text, out);
      break;
    case LCTL_IR_EVENT_SIGNATURE_DELTA:
      if (encoder->open_block >= 0 && encoder->open_kind == BLOCK_THINKING)
        encoder_delta (encoder, "signature_delta", "signature", event->text, out);
      break;
    case LCTL_IR_EVENT_TOOL_ARGS_DELTA:
      if (encoder_route (encoder, event, BLOCK_TOOL, out))
        encoder_delta (encoder, "input_json_delta", "partial_json", event->text, out);
      break;
    case LCTL_IR_EVENT_PART_STOP:
      if (encoder->open_block >= 0 && (event->index == encoder->open_ir_index || encoder->open_ir_index < 0))
        encoder_close_block (encoder, out);
      break;
    case LCTL_IR_EVENT_USAGE:
      lctl_ir_usage_merge (&encoder->usage, &event->usage);
      break;
    case LCTL_IR_EVENT_MESSAGE_STOP:
      {
        JsonObject *object = json_object_new ();
        JsonObject *delta = json_object_new ();
        JsonObject *usage = json_object_new ();

        lctl_ir_usage_merge (&encoder->usage, &event->usage);
        encoder_close_block (encoder, out);
        json_object_set_string_member (delta, "stop_reason", lctl_anthropic_stop_reason_to_string (event->stop_reason));
        if (event->stop_sequence != NULL)
          json_object_set_string_member (delta, "stop_sequence", event->stop_sequence);
        else
          json_object_set_null_member (delta, "stop_sequence");
        /* Cumulative, as the API reports them in message_delta. */
        if (encoder->usage.input_tokens >= 0)
          json_object_set_int_member (usage, "input_tokens", encoder->usage.input_tokens);
        if (encoder->usage.cache_creation_tokens >= 0)
          json_object_set_int_member (usage, "cache_creation_input_tokens", encoder->usage.cache_creation_tokens);
        if (encoder->usage.cache_read_tokens >= 0)
          json_object_set_int_member (usage, "cache_read_input_tokens", encoder->usage.cache_read_tokens);
        json_object_set_int_member (usage, "output_tokens", MAX (encoder->usage.output_tokens, 0));
        json_object_set_string_member (object, "type", "message_delta");
        json_object_set_object_member (object, "delta", delta);
        json_object_set_object_member (object, "usage", usage);
        write_event (out, "message_delta", object);

        object = json_object_new ();
        json_object_set_string_member (object, "type", "message_stop");
        write_event (out, "message_stop", object);
        encoder->done = TRUE;
      }
      break;
    case LCTL_IR_EVENT_ERROR:
      if (event->error != NULL)
        lctl_anthropic_encoder_error (encoder, event->error, out);
      else
        {
          g_autoptr (LctlIrError) error = lctl_ir_error_new (LCTL_IR_ERROR_API_ERROR, 0, NULL);

          lctl_anthropic_encoder_error (encoder, error, out);
        }
      break;
    case LCTL_IR_EVENT_PING:
      if (encoder->started)
        lctl_anthropic_encoder_ping (encoder, out);
      break;
    default:
      break;
    }
}

void
lctl_anthropic_encoder_ping (LctlAnthropicEncoder *encoder,
                             GString              *out)
{
  lctl_sse_append_event (out, "ping", "{\"type\":\"ping\"}");
}

void
lctl_anthropic_encoder_error (LctlAnthropicEncoder *encoder,
                              const LctlIrError    *error,
                              GString              *out)
{
  g_autoptr (JsonNode) body = lctl_anthropic_build_error (error, NULL);
  g_autofree char *data = lctl_json_to_string (body);

  lctl_sse_append_event (out, "error", data);
  encoder->done = TRUE;
}
