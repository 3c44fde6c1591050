/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lctl-json.h"

/* Compact JSON, written here rather than by JsonGenerator: json-glib 1.6
 * leaves U+001F unescaped (invalid JSON that SDKs refuse) and prints 0.7 as
 * 0.69999999999999996. One pass, one buffer. */

static void
write_string (GString    *out,
              const char *s)
{
  static const char hex[] = "0123456789abcdef";
  const char *run = s;

  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;
      const char *escape = NULL;

      if (c >= 0x20 && c != '"' && c != '\\')
        continue;
      g_string_append_len (out, run, p - run);
      run = p + 1;
      switch (c)
        {
        case '"':
          escape = "\\\"";
          break;
        case '\\':
          escape = "\\\\";
          break;
        case '\n':
          escape = "\\n";
          break;
        case '\r':
          escape = "\\r";
          break;
        case '\t':
          escape = "\\t";
          break;
        case '\b':
          escape = "\\b";
          break;
        case '\f':
          escape = "\\f";
          break;
        default:
          break;
        }
      if (escape != NULL)
        g_string_append (out, escape);
      else
        {
          char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf], '\0' };

          g_string_append (out, u);
        }
    }
  g_string_append (out, run);
  g_string_append_c (out, '"');
}

static void
write_double (GString *out,
              double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  /* The shortest of %.15g, %.16g, %.17g that reads back the same. */
  for (int precision = 15; precision <= 17; precision++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", precision);
      g_ascii_formatd (buf, sizeof buf, format, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_string_append (out, buf);
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
write_value (GString  *out,
             JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      write_double (out, json_node_get_double (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_STRING:
      write_string (out, json_node_get_string (node));
      break;
    default:
      g_string_append (out, "null");
      break;
    }
}

/**
 * lctl_json_write:
 * @out: Where to append.
 * @node: (nullable): A JSON tree; %NULL writes `null`.
 *
 * Appends @node as compact JSON.
 */
void
lctl_json_write (GString  *out,
                 JsonNode *node)
{
  if (node == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            write_string (out, name);
            g_string_append_c (out, ':');
            lctl_json_write (out, member);
          }
        g_string_append_c (out, '}');
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        unsigned length = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (unsigned i = 0; i < length; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            lctl_json_write (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
        break;
      }
    case JSON_NODE_VALUE:
      write_value (out, node);
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

/**
 * lctl_json_to_string:
 *
 * Returns: (transfer full): @node as compact JSON.
 */
char *
lctl_json_to_string (JsonNode *node)
{
  GString *out = g_string_sized_new (256);

  lctl_json_write (out, node);
  return g_string_free (out, FALSE);
}

/**
 * lctl_json_to_bytes:
 *
 * Returns: (transfer full): @node as compact JSON.
 */
GBytes *
lctl_json_to_bytes (JsonNode *node)
{
  GString *out = g_string_sized_new (512);

  lctl_json_write (out, node);
  return g_string_free_to_bytes (out);
}
