/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lctl-json.h"

/* json-glib's parser cuts a string at an escaped NUL (tool output of
 * `find -print0` has them). Parsed text carries it as U+10FFFF instead, a
 * noncharacter no real text uses, and the writer below turns it back. */
#define NUL_STANDIN         "\xf4\x8f\xbf\xbf"
#define NUL_STANDIN_ESCAPED "\\udbff\\udfff"

/**
 * lctl_json_protect_nul:
 * @text: JSON text.
 * @length: Its length, or -1.
 * @out_length: (out): The length of the result.
 *
 * Returns: (transfer full) (nullable): @text with every `\u0000` escape
 *   replaced by the escape of U+10FFFF, or %NULL when it has none.
 */
char *
lctl_json_protect_nul (const char *text,
                       gssize      length,
                       gsize      *out_length)
{
  const char *end;
  GString    *out = NULL;
  const char *run = text;

  if (length < 0)
    length = strlen (text);
  end = text + length;
  for (const char *p = text; p + 1 < end; p++)
    {
      if (*p != '\\')
        continue;
      /* Another escape (\\, \") : skip what it escapes. */
      if (p[1] != 'u' || end - p < 6 || memcmp (p + 2, "0000", 4) != 0)
        {
          p++;
          continue;
        }
      if (out == NULL)
        out = g_string_sized_new (length + 16);
      g_string_append_len (out, run, p - run);
      g_string_append (out, NUL_STANDIN_ESCAPED);
      p += 5;
      run = p + 1;
    }
  if (out == NULL)
    return NULL;
  g_string_append_len (out, run, end - run);
  *out_length = out->len;
  return g_string_free (out, FALSE);
}

/* Compact JSON, written here rather than by JsonGenerator: json-glib 1.6
 * leaves U+001F unescaped (invalid JSON that SDKs refuse) and prints 0.7 as
 * 0.69999999999999996. One pass, one buffer. */

static void
write_string (GString    *out,
              const char *s)
{
  static const char hex[] = "0123456789abcdef";
  const char       *run = s;

  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;
      const char   *escape = NULL;

      if (c == 0xf4 && memcmp (p, NUL_STANDIN, 4) == 0)
        {
          g_string_append_len (out, run, p - run);
          g_string_append (out, "\\u0000");
          p += 3;
          run = p + 1;
          continue;
        }
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
        const char    *name;
        JsonNode      *member;
        gboolean       first = TRUE;

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
        unsigned   length = json_array_get_length (array);

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
