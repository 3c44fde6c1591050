/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <string.h>

#include "lctl-tool-names.h"

struct _LctlToolNames
{
  GHashTable *to_upstream; /* client name -> upstream name */
  GHashTable *to_client;   /* upstream name -> client name */
};

static gboolean
name_is_valid (const char *name)
{
  if (name == NULL || !g_ascii_isalpha (name[0]))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/**
 * lctl_tool_name_sanitize:
 * @name: A tool name.
 *
 * Invalid characters become `_`, runs of `_` collapse, leading and trailing
 * `_` go, and a name that does not start with a letter gets `t_` in front.
 *
 * Returns: (transfer full): the sanitised name.
 */
char *
lctl_tool_name_sanitize (const char *name)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *start;
  gsize       end;

  for (const char *p = name; *p != '\0'; p++)
    {
      char c = g_ascii_isalnum (*p) || *p == '-' ? *p : '_';

      if (c == '_' && out->len > 0 && out->str[out->len - 1] == '_')
        continue;
      g_string_append_c (out, c);
    }
  start = out->str;
  while (*start == '_')
    start++;
  end = strlen (start);
  while (end > 0 && start[end - 1] == '_')
    end--;
  if (end == 0)
    return g_strdup ("t_tool");
  if (!g_ascii_isalpha (start[0]))
    return g_strdup_printf ("t_%.*s", (int) end, start);
  return g_strndup (start, end);
}

static const char *
map_name (LctlToolNames *self,
          const char    *name)
{
  char *mapped;

  if (name == NULL)
    return NULL;
  mapped = g_hash_table_lookup (self->to_upstream, name);
  if (mapped != NULL)
    return mapped;
  if (name_is_valid (name) && !g_hash_table_contains (self->to_client, name))
    mapped = g_strdup (name);
  else
    {
      g_autofree char *base = lctl_tool_name_sanitize (name);

      mapped = g_strdup (base);
      for (unsigned n = 2; g_hash_table_contains (self->to_client, mapped); n++)
        {
          g_free (mapped);
          mapped = g_strdup_printf ("%s_%u", base, n);
        }
    }
  g_hash_table_insert (self->to_upstream, g_strdup (name), mapped);
  g_hash_table_insert (self->to_client, g_strdup (mapped), g_strdup (name));
  return mapped;
}

static void
replace_name (char      **name,
              const char *to)
{
  if (*name != NULL && to != NULL && !g_str_equal (*name, to))
    {
      g_free (*name);
      *name = g_strdup (to);
    }
}

/**
 * lctl_tool_names_sanitize_request:
 * @request: A request about to go to a strict upstream.
 *
 * Renames its tools, tool choice and the tool calls and results of its
 * history.
 *
 * Returns: (transfer full): the names, to restore the client's in the
 *   answer.
 */
LctlToolNames *
lctl_tool_names_sanitize_request (LctlIrRequest *request)
{
  LctlToolNames *self = g_new0 (LctlToolNames, 1);

  self->to_upstream = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->to_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  /* Valid names keep themselves first, so a sanitised one never takes
   * a name the client really uses. */
  for (unsigned pass = 0; pass < 2; pass++)
    for (unsigned i = 0; request->tools != NULL && i < request->tools->len; i++)
      {
        LctlIrTool *tool = g_ptr_array_index (request->tools, i);

        if (tool->type == NULL && tool->name != NULL && name_is_valid (tool->name) == (pass == 0))
          replace_name (&tool->name, map_name (self, tool->name));
      }

  if (request->tool_choice.name != NULL)
    replace_name (&request->tool_choice.name, map_name (self, request->tool_choice.name));

  for (unsigned i = 0; request->messages != NULL && i < request->messages->len; i++)
    {
      LctlIrMessage *message = g_ptr_array_index (request->messages, i);

      for (unsigned j = 0; message->parts != NULL && j < message->parts->len; j++)
        {
          LctlIrPart *part = g_ptr_array_index (message->parts, j);

          if ((part->kind == LCTL_IR_PART_TOOL_CALL || part->kind == LCTL_IR_PART_TOOL_RESULT) &&
              part->name != NULL)
            replace_name (&part->name, map_name (self, part->name));
        }
    }
  return self;
}

/* The client's name for @upstream_name (itself when it was not renamed). */
const char *
lctl_tool_names_to_client (LctlToolNames *self,
                           const char    *upstream_name)
{
  const char *client;

  if (self == NULL || upstream_name == NULL)
    return upstream_name;
  client = g_hash_table_lookup (self->to_client, upstream_name);
  return client != NULL ? client : upstream_name;
}

void
lctl_tool_names_restore_event (LctlToolNames *self,
                               LctlIrEvent   *event)
{
  if (self == NULL || event->part == NULL || event->part->kind != LCTL_IR_PART_TOOL_CALL)
    return;
  replace_name (&event->part->name, lctl_tool_names_to_client (self, event->part->name));
}

void
lctl_tool_names_restore_response (LctlToolNames  *self,
                                  LctlIrResponse *response)
{
  if (self == NULL || response->parts == NULL)
    return;
  for (unsigned i = 0; i < response->parts->len; i++)
    {
      LctlIrPart *part = g_ptr_array_index (response->parts, i);

      if (part->kind == LCTL_IR_PART_TOOL_CALL)
        replace_name (&part->name, lctl_tool_names_to_client (self, part->name));
    }
}

void
lctl_tool_names_free (LctlToolNames *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->to_upstream);
  g_hash_table_unref (self->to_client);
  g_free (self);
}
