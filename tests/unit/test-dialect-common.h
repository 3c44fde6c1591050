/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

/* Helpers shared by the dialect tests: fixtures and JSONPath checks. */

#include <json-glib/json-glib.h>

#include "lctl-dialect.h"
#include "lctl-sse.h"
#include "lctl-test-utils.h"

/* Not inlined: GCC 12 then mistakes the result for a dangling local. */
G_GNUC_NO_INLINE static char *
fixture_text (const char *name,
              gsize      *length)
{
  g_autofree char *path = lctl_test_source_path ("fixtures", "dialects", name, NULL);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, length, &error);
  g_assert_no_error (error);
  return contents;
}

static inline JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* A fixture parsed as a client request of @dialect; the test fails if it
 * does not parse. */
static inline LctlIrRequest *
fixture_request (LctlDialect dialect,
                 const char *name)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text (name, &length);
  g_autoptr (GError) error = NULL;
  LctlIrRequest *request = lctl_dialect_parse_request (dialect, text, length, &error);

  g_assert_no_error (error);
  g_assert_nonnull (request);
  return request;
}

/* The single node at a JSONPath, or NULL when nothing matches. */
static inline JsonNode *
path_node (JsonNode   *root,
           const char *path)
{
  g_autoptr (JsonNode) result = NULL;
  g_autoptr (GError) error = NULL;
  JsonArray *matches;

  result = json_path_query (path, root, &error);
  g_assert_no_error (error);
  matches = json_node_get_array (result);
  if (json_array_get_length (matches) == 0)
    return NULL;
  return json_node_copy (json_array_get_element (matches, 0));
}

static inline gboolean
path_exists (JsonNode   *root,
             const char *path)
{
  g_autoptr (JsonNode) node = path_node (root, path);

  return node != NULL;
}

static inline char *
path_string (JsonNode   *root,
             const char *path)
{
  g_autoptr (JsonNode) node = path_node (root, path);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

static inline gint64
path_int (JsonNode   *root,
          const char *path)
{
  g_autoptr (JsonNode) node = path_node (root, path);

  g_assert_nonnull (node);
  return json_node_get_int (node);
}

static inline unsigned
path_length (JsonNode   *root,
             const char *path)
{
  g_autoptr (JsonNode) node = path_node (root, path);

  if (node == NULL)
    return 0;
  if (JSON_NODE_HOLDS_ARRAY (node))
    return json_array_get_length (json_node_get_array (node));
  if (JSON_NODE_HOLDS_OBJECT (node))
    return json_object_get_size (json_node_get_object (node));
  return 0;
}

#define assert_path_str(root, path, expected)               \
  G_STMT_START                                              \
  {                                                         \
    g_autofree char *_value = path_string ((root), (path)); \
    if (g_strcmp0 (_value, (expected)) != 0)                \
      g_error ("%s: expected “%s”, got “%s”", (path),       \
               (expected) ? (expected) : "(null)",          \
               _value ? _value : "(null)");                 \
  }                                                         \
  G_STMT_END

static inline char *
node_to_string (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

/* Parses client SSE bytes back into events (what a client sees). */
static inline GPtrArray *
sse_parse_all (const char *text,
               gsize       length)
{
  g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();
  GPtrArray *events = lctl_sse_event_array_new ();

  lctl_sse_parser_feed (parser, text, length, events);
  lctl_sse_parser_finish (parser, events);
  return events;
}

/* Decodes a whole upstream stream into IR events. */
static inline GPtrArray *
decode_stream (LctlDialect dialect,
               const char *text,
               gsize       length)
{
  g_autoptr (LctlStreamDecoder) decoder = lctl_stream_decoder_new (dialect);
  g_autoptr (GError) error = NULL;
  GPtrArray *events = lctl_ir_event_array_new ();

  lctl_stream_decoder_feed_bytes (decoder, text, length, events, &error);
  g_assert_no_error (error);
  lctl_stream_decoder_finish (decoder, events);
  return events;
}

/* Encodes IR events into client bytes. */
static inline GString *
encode_stream (LctlDialect dialect,
               GPtrArray  *events,
               gboolean    include_usage)
{
  g_autoptr (LctlStreamEncoder) encoder = lctl_stream_encoder_new (dialect, NULL, include_usage);
  GString *out = g_string_new (NULL);

  for (unsigned i = 0; i < events->len; i++)
    {
      g_autoptr (GBytes) bytes = lctl_stream_encoder_encode (encoder, events->pdata[i]);

      if (bytes != NULL)
        g_string_append_len (out, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    }
  return out;
}
