/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lctl-sse.h"

/* A line longer than this is dropped rather than buffered without bound. */
#define MAX_LINE_BYTES (64 * 1024 * 1024)

struct _LctlSseParser
{
  GString *line;
  GString *data;
  char    *event;
  char    *id;
  int      retry;
  gboolean has_data;
  gboolean after_cr;
  gboolean bom_checked;
  gboolean line_overflow;
};

void
lctl_sse_event_free (LctlSseEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->event);
  g_free (event->data);
  g_free (event->id);
  g_free (event);
}

GPtrArray *
lctl_sse_event_array_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_sse_event_free);
}

LctlSseParser *
lctl_sse_parser_new (void)
{
  LctlSseParser *parser = g_new0 (LctlSseParser, 1);

  parser->line = g_string_new (NULL);
  parser->data = g_string_new (NULL);
  parser->retry = -1;
  return parser;
}

void
lctl_sse_parser_free (LctlSseParser *parser)
{
  if (parser == NULL)
    return;
  g_string_free (parser->line, TRUE);
  g_string_free (parser->data, TRUE);
  g_free (parser->event);
  g_free (parser->id);
  g_free (parser);
}

static void
dispatch (LctlSseParser *parser,
          GPtrArray     *events)
{
  LctlSseEvent *event;

  if (!parser->has_data)
    {
      /* Per the spec an event without data is not dispatched. */
      g_clear_pointer (&parser->event, g_free);
      return;
    }
  event = g_new0 (LctlSseEvent, 1);
  event->event = g_steal_pointer (&parser->event);
  event->data = g_strndup (parser->data->str, parser->data->len);
  event->id = g_strdup (parser->id);
  event->retry = parser->retry;
  g_ptr_array_add (events, event);
  g_string_truncate (parser->data, 0);
  parser->has_data = FALSE;
}

static void
process_line (LctlSseParser *parser,
              GPtrArray     *events)
{
  const char      *line = parser->line->str;
  gsize            len = parser->line->len;
  const char      *colon;
  g_autofree char *field = NULL;
  const char      *value;
  gsize            value_len;

  if (parser->line_overflow)
    {
      parser->line_overflow = FALSE;
      return;
    }
  if (len == 0)
    {
      dispatch (parser, events);
      return;
    }
  if (line[0] == ':')
    return;

  colon = memchr (line, ':', len);
  if (colon != NULL)
    {
      field = g_strndup (line, colon - line);
      value = colon + 1;
      if (*value == ' ')
        value++;
      value_len = len - (value - line);
    }
  else
    {
      field = g_strndup (line, len);
      value = "";
      value_len = 0;
    }

  if (g_str_equal (field, "data"))
    {
      if (parser->has_data)
        g_string_append_c (parser->data, '\n');
      g_string_append_len (parser->data, value, value_len);
      parser->has_data = TRUE;
    }
  else if (g_str_equal (field, "event"))
    {
      g_free (parser->event);
      parser->event = g_strndup (value, value_len);
    }
  else if (g_str_equal (field, "id"))
    {
      if (memchr (value, '\0', value_len) == NULL)
        {
          g_free (parser->id);
          parser->id = g_strndup (value, value_len);
        }
    }
  else if (g_str_equal (field, "retry"))
    {
      g_autofree char *digits = g_strndup (value, value_len);
      gboolean         all_digits = value_len > 0 && value_len < 10;

      for (gsize i = 0; i < value_len && all_digits; i++)
        all_digits = g_ascii_isdigit (digits[i]);
      if (all_digits)
        parser->retry = atoi (digits);
    }
}

void
lctl_sse_parser_feed (LctlSseParser *parser,
                      const char    *buf,
                      gsize          len,
                      GPtrArray     *events)
{
  gsize i = 0;

  g_return_if_fail (parser != NULL);
  g_return_if_fail (events != NULL);

  while (i < len)
    {
      char c = buf[i];

      if (!parser->bom_checked)
        {
          /* The BOM may itself arrive split; hold bytes until decided. */
          static const char bom[] = "\xEF\xBB\xBF";
          gsize             have = parser->line->len;

          if ((unsigned char) c == (unsigned char) bom[have])
            {
              g_string_append_c (parser->line, c);
              i++;
              if (parser->line->len == 3)
                {
                  g_string_truncate (parser->line, 0);
                  parser->bom_checked = TRUE;
                }
              continue;
            }
          parser->bom_checked = TRUE;
        }

      if (parser->after_cr)
        {
          parser->after_cr = FALSE;
          if (c == '\n')
            {
              i++;
              continue;
            }
        }

      if (c == '\r' || c == '\n')
        {
          process_line (parser, events);
          g_string_truncate (parser->line, 0);
          parser->after_cr = c == '\r';
          i++;
          continue;
        }

      {
        /* Copy the run up to the next line break at once. */
        gsize j = i;

        while (j < len && buf[j] != '\r' && buf[j] != '\n')
          j++;
        if (!parser->line_overflow)
          {
            if (parser->line->len + (j - i) > MAX_LINE_BYTES)
              {
                parser->line_overflow = TRUE;
                g_string_truncate (parser->line, 0);
              }
            else
              g_string_append_len (parser->line, buf + i, j - i);
          }
        i = j;
      }
    }
}

void
lctl_sse_parser_finish (LctlSseParser *parser,
                        GPtrArray     *events)
{
  g_return_if_fail (parser != NULL);

  if (!parser->bom_checked)
    {
      /* Only part of a BOM arrived: those bytes were a line after all. */
      parser->bom_checked = TRUE;
    }
  if (parser->line->len > 0 || parser->line_overflow)
    {
      process_line (parser, events);
      g_string_truncate (parser->line, 0);
    }
  dispatch (parser, events);
  parser->after_cr = FALSE;
}

void
lctl_sse_append_event (GString    *out,
                       const char *event,
                       const char *data)
{
  const char *p = data ? data : "";

  if (event != NULL)
    g_string_append_printf (out, "event: %s\n", event);
  for (;;)
    {
      const char *end = strpbrk (p, "\r\n");

      g_string_append (out, "data: ");
      if (end == NULL)
        {
          g_string_append (out, p);
          g_string_append_c (out, '\n');
          break;
        }
      g_string_append_len (out, p, end - p);
      g_string_append_c (out, '\n');
      p = end + ((end[0] == '\r' && end[1] == '\n') ? 2 : 1);
    }
  g_string_append_c (out, '\n');
}

void
lctl_sse_append_comment (GString    *out,
                         const char *text)
{
  g_string_append_printf (out, ": %s\n\n", text ? text : "");
}
