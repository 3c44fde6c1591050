/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-config"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lctl-config.h"
#include "lctl-error.h"

/*
 * One mechanism, three steps:
 *
 *   1. YAML → JSON: libyaml events become a json-glib tree. Beside the tree a
 *      table maps every JsonNode to where it was written (and, for mapping
 *      values, where its key was written), so every later message can say
 *      `file:line:col: what was expected`.
 *   2. Resolution: `environment_variables` is exported, then every
 *      `os.environ/NAME` string is replaced in place by the variable's value.
 *   3. JSON → snapshot: each section is checked and copied into the typed
 *      LctlConfig, which keeps references to the (sealed) JSON objects.
 */

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_parser_t, yaml_parser_delete)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_event_t, yaml_event_delete)

/* Bounds that keep hostile input from exhausting the stack (recursive walks
 * over the tree) or memory (alias expansion, "billion laughs"). */
#define YAML_MAX_DEPTH 200
#define YAML_MAX_NODES (1u << 18)

#define ENV_REF_PREFIX           "os.environ/"
#define DEFAULT_MAX_REQUEST_BODY ((gsize) 32 * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Step 1: YAML → located JSON                                               */
/* ------------------------------------------------------------------------ */

typedef struct
{
  int      line; /* 1-based; 0 when unknown (copies made for aliases and merges) */
  int      column;
  int      key_line; /* where the key was written, for mapping values */
  int      key_column;
  gsize    size;     /* nodes in the subtree, to bound alias expansion */
  unsigned height;   /* depth of the subtree, to bound recursion */
  char    *env_name; /* set when the value came from os.environ/NAME */
} LctlYamlLocation;

static void
yaml_location_free (gpointer data)
{
  LctlYamlLocation *location = data;

  g_free (location->env_name);
  g_free (location);
}

static GHashTable *
yaml_locations_new (void)
{
  return g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, yaml_location_free);
}

typedef struct
{
  yaml_parser_t *parser;
  const char    *data;
  gsize          length;
  const char    *path;
  GHashTable    *locations; /* JsonNode* -> LctlYamlLocation* */
  GHashTable    *anchors;   /* anchor name -> JsonNode* (ref) */
  GPtrArray     *keep;      /* nodes kept alive until the build ends, so no
                          * freed address is reused by a node with a stale
                          * location entry */
  gsize          total_nodes;
} LctlYamlBuilder;

static LctlYamlLocation *
yaml_location_add (GHashTable *locations,
                   JsonNode   *node,
                   int         line,
                   int         column)
{
  LctlYamlLocation *location = g_new0 (LctlYamlLocation, 1);

  location->line = line;
  location->column = column;
  location->size = 1;
  location->height = 1;
  g_hash_table_insert (locations, node, location);
  return location;
}

static void
set_error_at (GError    **error,
              const char *path,
              int         line,
              int         column,
              const char *format,
              ...) G_GNUC_PRINTF (5, 6);

static void
set_error_at (GError    **error,
              const char *path,
              int         line,
              int         column,
              const char *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list          args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG, "%s:%d:%d: %s", path, line, column, message);
}

/* Byte offset of a 0-based line/column (columns count characters). */
static gsize
offset_of_mark (const char *data,
                gsize       length,
                gsize       line,
                gsize       column)
{
  gsize offset = 0;

  for (gsize l = 0; l < line && offset < length; offset++)
    if (data[offset] == '\n')
      l++;
  for (gsize c = 0; c < column && offset < length;)
    {
      offset++;
      /* Skip UTF-8 continuation bytes. */
      while (offset < length && ((unsigned char) data[offset] & 0xC0) == 0x80)
        offset++;
      c++;
    }
  return offset;
}

static void
set_parser_error (LctlYamlBuilder *b,
                  GError         **error)
{
  const yaml_parser_t *parser = b->parser;
  const char          *problem = parser->problem != NULL ? parser->problem : "invalid YAML";

  switch (parser->error)
    {
    case YAML_MEMORY_ERROR:
      set_error_at (error, b->path, 1, 1, "out of memory while parsing YAML");
      return;

    case YAML_READER_ERROR:
      {
        /* Reader errors carry a byte offset, not a mark. */
        gsize offset = MIN (parser->problem_offset, b->length);
        int   line = 1;
        int   column = 1;

        for (gsize i = 0; i < offset; i++)
          {
            if (b->data[i] == '\n')
              {
                line++;
                column = 1;
              }
            else if (((unsigned char) b->data[i] & 0xC0) != 0x80)
              column++;
          }
        if (parser->problem_value != -1)
          set_error_at (error, b->path, line, column, "%s (byte 0x%02X); expected UTF-8 text", problem,
                        (unsigned) parser->problem_value & 0xFF);
        else
          set_error_at (error, b->path, line, column, "%s; expected UTF-8 text", problem);
        return;
      }

    default:
      {
        const yaml_mark_t *mark = &parser->problem_mark;
        gsize              offset = offset_of_mark (b->data, b->length, mark->line, mark->column);
        g_autofree char   *context = NULL;

        if (parser->context != NULL)
          context = g_strdup_printf (" (%s at line %zu column %zu)", parser->context,
                                     parser->context_mark.line + 1, parser->context_mark.column + 1);

        /* libyaml's wording for a tab is obscure; say what to fix. */
        if (offset < b->length && b->data[offset] == '\t')
          set_error_at (error, b->path, (int) mark->line + 1, (int) mark->column + 1,
                        "found a tab character; expected spaces for indentation%s",
                        context != NULL ? context : "");
        else
          set_error_at (error, b->path, (int) mark->line + 1, (int) mark->column + 1, "%s%s%s", problem,
                        context != NULL ? context : "",
                        /* Nearly always a line indented differently from its siblings. */
                        g_str_equal (problem, "did not find expected key") || g_str_equal (problem, "mapping values are not allowed in this context") || g_str_equal (problem, "did not find expected '-' indicator")
                            ? "; check the indentation of this line"
                            : "");
        return;
      }
    }
}

static gboolean
yaml_next_event (LctlYamlBuilder *b,
                 yaml_event_t    *event,
                 GError         **error)
{
  if (!yaml_parser_parse (b->parser, event))
    {
      set_parser_error (b, error);
      return FALSE;
    }
  return TRUE;
}

/* YAML 1.1 implicit typing of plain scalars, as PyYAML's SafeLoader does it
 * (LiteLLM reads config.yaml with yaml.safe_load). */

static const char *const yaml_int_pattern = "^(?:[-+]?0b[0-1_]+"
                                            "|[-+]?0[0-7_]+"
                                            "|[-+]?(?:0|[1-9][0-9_]*)"
                                            "|[-+]?0x[0-9a-fA-F_]+"
                                            "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$";

static const char *const yaml_float_pattern = "^(?:[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?"
                                              "|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
                                              "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*"
                                              "|[-+]?\\.(?:inf|Inf|INF)"
                                              "|\\.(?:nan|NaN|NAN))$";

static gboolean
yaml_matches (unsigned    which,
              const char *text)
{
  static GRegex *regexes[2];
  static gsize   initialized;

  if (g_once_init_enter (&initialized))
    {
      regexes[0] = g_regex_new (yaml_int_pattern, G_REGEX_DOLLAR_ENDONLY | G_REGEX_OPTIMIZE, 0, NULL);
      regexes[1] = g_regex_new (yaml_float_pattern, G_REGEX_DOLLAR_ENDONLY | G_REGEX_OPTIMIZE, 0, NULL);
      g_assert (regexes[0] != NULL && regexes[1] != NULL);
      g_once_init_leave (&initialized, 1);
    }
  return g_regex_match (regexes[which], text, 0, NULL);
}

static gboolean
yaml_is_null (const char *text)
{
  return g_str_equal (text, "") || g_str_equal (text, "~") || g_str_equal (text, "null") || g_str_equal (text, "Null") || g_str_equal (text, "NULL");
}

/* Returns 1 for true, 0 for false, -1 for neither. */
static int
yaml_bool_value (const char *text)
{
  static const char *const trues[] = { "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON" };
  static const char *const falses[] = { "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF" };

  for (gsize i = 0; i < G_N_ELEMENTS (trues); i++)
    if (g_str_equal (text, trues[i]))
      return 1;
  for (gsize i = 0; i < G_N_ELEMENTS (falses); i++)
    if (g_str_equal (text, falses[i]))
      return 0;
  return -1;
}

/* Copies @text without '_' separators and splits off the sign. */
static char *
yaml_number_digits (const char *text,
                    gboolean   *negative)
{
  GString *digits = g_string_new (NULL);

  *negative = FALSE;
  if (*text == '-' || *text == '+')
    *negative = *text++ == '-';
  for (; *text != '\0'; text++)
    if (*text != '_')
      g_string_append_c (digits, *text);
  return g_string_free (digits, FALSE);
}

static double
yaml_sexagesimal (const char *digits)
{
  g_auto (GStrv) parts = g_strsplit (digits, ":", -1);
  double value = 0;

  for (gsize i = 0; parts[i] != NULL; i++)
    value = value * 60 + g_ascii_strtod (parts[i], NULL);
  return value;
}

static JsonNode *
yaml_int_node (const char *text)
{
  gboolean         negative;
  g_autofree char *digits = yaml_number_digits (text, &negative);
  const char      *start = digits;
  unsigned         base = 10;
  guint64          magnitude;
  char            *end = NULL;
  JsonNode        *node = json_node_alloc ();

  if (strchr (digits, ':') != NULL)
    {
      double value = yaml_sexagesimal (digits);

      if (value <= (double) G_MAXINT64)
        return json_node_init_int (node, (gint64) (negative ? -value : value));
      return json_node_init_double (node, negative ? -value : value);
    }

  if (g_str_has_prefix (digits, "0b"))
    base = 2, start += 2;
  else if (g_str_has_prefix (digits, "0x"))
    base = 16, start += 2;
  else if (digits[0] == '0' && digits[1] != '\0')
    base = 8, start += 1;

  errno = 0;
  magnitude = g_ascii_strtoull (start, &end, base);
  if (errno == 0 && magnitude <= (guint64) G_MAXINT64)
    return json_node_init_int (node, negative ? -(gint64) magnitude : (gint64) magnitude);

  /* Python has big integers; the closest JSON can do is a double. */
  if (base == 10)
    return json_node_init_double (node, g_ascii_strtod (text, NULL));
  return json_node_init_string (node, text);
}

static JsonNode *
yaml_float_node (const char *text)
{
  gboolean         negative;
  g_autofree char *digits = yaml_number_digits (text, &negative);
  JsonNode        *node = json_node_alloc ();
  double           value;

  if (g_ascii_strcasecmp (digits, ".inf") == 0)
    value = INFINITY;
  else if (g_ascii_strcasecmp (digits, ".nan") == 0)
    value = NAN;
  else if (strchr (digits, ':') != NULL)
    value = yaml_sexagesimal (digits);
  else
    value = g_ascii_strtod (digits, NULL);
  return json_node_init_double (node, negative ? -value : value);
}

static JsonNode *
yaml_plain_scalar_node (const char *text)
{
  int boolean;

  if (yaml_is_null (text))
    return json_node_init_null (json_node_alloc ());
  if ((boolean = yaml_bool_value (text)) != -1)
    return json_node_init_boolean (json_node_alloc (), boolean);
  if (yaml_matches (0, text))
    return yaml_int_node (text);
  if (yaml_matches (1, text))
    return yaml_float_node (text);
  return json_node_init_string (json_node_alloc (), text);
}

static JsonNode *
yaml_scalar_node (const yaml_event_t *event)
{
  const char *text = (const char *) event->data.scalar.value;
  const char *tag = (const char *) event->data.scalar.tag;

  if (tag != NULL && !event->data.scalar.plain_implicit && !event->data.scalar.quoted_implicit)
    {
      /* An explicit tag: !!str forces a string, the other core tags ask
       * for the usual resolution, anything else is kept as text. */
      if (g_str_equal (tag, YAML_INT_TAG) || g_str_equal (tag, YAML_FLOAT_TAG) || g_str_equal (tag, YAML_BOOL_TAG) || g_str_equal (tag, YAML_NULL_TAG))
        return yaml_plain_scalar_node (text);
      return json_node_init_string (json_node_alloc (), text);
    }
  if (event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return json_node_init_string (json_node_alloc (), text);
  return yaml_plain_scalar_node (text);
}

static JsonNode *yaml_build_node (LctlYamlBuilder *b,
                                  yaml_event_t    *event,
                                  unsigned         depth,
                                  GError         **error);

/* A deep copy, so that each alias is an independent subtree (in-place
 * resolution and parent pointers stay simple). */
static JsonNode *
yaml_copy_node (JsonNode *node)
{
  JsonNode *copy;

  if (!JSON_NODE_HOLDS_OBJECT (node) && !JSON_NODE_HOLDS_ARRAY (node))
    return json_node_copy (node);

  copy = json_node_alloc ();
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr (JsonObject) copy_object = json_object_new ();
        g_autoptr (GList) members = json_object_get_members (object);

        json_node_init_object (copy, copy_object);
        for (GList *l = members; l != NULL; l = l->next)
          {
            JsonNode *child = yaml_copy_node (json_object_get_member (object, l->data));

            json_node_set_parent (child, copy);
            json_object_set_member (copy_object, l->data, child);
          }
        break;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        g_autoptr (JsonArray) copy_array = json_array_sized_new (json_array_get_length (array));

        json_node_init_array (copy, copy_array);
        for (unsigned i = 0; i < json_array_get_length (array); i++)
          {
            JsonNode *child = yaml_copy_node (json_array_get_element (array, i));

            json_node_set_parent (child, copy);
            json_array_add_element (copy_array, child);
          }
        break;
      }

    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      g_assert_not_reached ();
    }
  return copy;
}

static gboolean
yaml_account (LctlYamlBuilder *b,
              int              line,
              int              column,
              gsize            size,
              GError         **error)
{
  b->total_nodes += size;
  if (b->total_nodes > YAML_MAX_NODES)
    {
      set_error_at (error, b->path, line, column,
                    "the document expands to more than %u values; expected a smaller file (are aliases nested too deeply?)",
                    YAML_MAX_NODES);
      return FALSE;
    }
  return TRUE;
}

static JsonNode *
yaml_build_alias (LctlYamlBuilder *b,
                  yaml_event_t    *event,
                  unsigned         depth,
                  GError         **error)
{
  const char             *anchor = (const char *) event->data.alias.anchor;
  JsonNode               *target = g_hash_table_lookup (b->anchors, anchor);
  const LctlYamlLocation *target_location;
  LctlYamlLocation       *location;
  JsonNode               *copy;

  if (target == NULL)
    {
      set_error_at (error, b->path, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1,
                    "unknown anchor \"%s\"; expected an alias to an anchor defined earlier (&%s)", anchor, anchor);
      return NULL;
    }
  target_location = g_hash_table_lookup (b->locations, target);
  if (depth + target_location->height > YAML_MAX_DEPTH)
    {
      set_error_at (error, b->path, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1,
                    "alias \"%s\" nests deeper than %u levels; expected a flatter document", anchor, YAML_MAX_DEPTH);
      return NULL;
    }
  if (!yaml_account (b, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1, target_location->size, error))
    return NULL;

  copy = yaml_copy_node (target);
  location = yaml_location_add (b->locations, copy, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1);
  location->size = target_location->size;
  location->height = target_location->height;
  return copy;
}

static JsonNode *
yaml_build_sequence (LctlYamlBuilder *b,
                     yaml_event_t    *event,
                     unsigned         depth,
                     GError         **error)
{
  g_autoptr (JsonNode) node = json_node_alloc ();
  g_autoptr (JsonArray) array = json_array_new ();
  LctlYamlLocation *location;

  json_node_init_array (node, array);
  location = yaml_location_add (b->locations, node, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1);

  for (;;)
    {
      g_auto (yaml_event_t) child_event = { 0 };
      const LctlYamlLocation *child_location;
      JsonNode               *child;

      if (!yaml_next_event (b, &child_event, error))
        return NULL;
      if (child_event.type == YAML_SEQUENCE_END_EVENT)
        break;
      child = yaml_build_node (b, &child_event, depth + 1, error);
      if (child == NULL)
        return NULL;
      child_location = g_hash_table_lookup (b->locations, child);
      location->size += child_location->size;
      location->height = MAX (location->height, child_location->height + 1);
      json_node_set_parent (child, node);
      json_array_add_element (array, child);
    }
  return g_steal_pointer (&node);
}

/* `<<: *anchor` (or a list of them): members the mapping does not set
 * itself are taken from the merged mappings, earlier ones first. */
static gboolean
yaml_apply_merges (LctlYamlBuilder *b,
                   JsonNode        *node,
                   GPtrArray       *merges,
                   GError         **error)
{
  JsonObject       *object = json_node_get_object (node);
  LctlYamlLocation *location = g_hash_table_lookup (b->locations, node);

  for (unsigned i = 0; i < merges->len; i++)
    {
      JsonNode               *source = g_ptr_array_index (merges, i);
      const LctlYamlLocation *source_location = g_hash_table_lookup (b->locations, source);
      JsonObject             *source_object = json_node_get_object (source);
      g_autoptr (GList) members = json_object_get_members (source_object);

      if (!yaml_account (b, source_location->line, source_location->column, source_location->size, error))
        return FALSE;
      location->size += source_location->size;

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonNode               *member = json_object_get_member (source_object, l->data);
          const LctlYamlLocation *member_location = g_hash_table_lookup (b->locations, member);
          LctlYamlLocation       *copy_location;
          JsonNode               *copy;

          if (json_object_has_member (object, l->data))
            continue;
          copy = yaml_copy_node (member);
          json_node_set_parent (copy, node);
          json_object_set_member (object, l->data, copy);
          /* Point at the definition when known, else at the alias. */
          if (member_location == NULL)
            member_location = source_location;
          copy_location = yaml_location_add (b->locations, copy, member_location->line, member_location->column);
          copy_location->key_line = member_location->key_line;
          copy_location->key_column = member_location->key_column;
        }
      location->height = MAX (location->height, source_location->height);
    }
  return TRUE;
}

static gboolean
yaml_collect_merge (LctlYamlBuilder   *b,
                    JsonNode          *value,
                    const yaml_mark_t *mark,
                    GPtrArray         *merges,
                    GError           **error)
{
  if (JSON_NODE_HOLDS_OBJECT (value))
    {
      g_ptr_array_add (merges, value);
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (value))
    {
      JsonArray *array = json_node_get_array (value);

      for (unsigned i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_OBJECT (element))
            {
              set_error_at (error, b->path, (int) mark->line + 1, (int) mark->column + 1,
                            "expected a mapping or a list of mappings to merge with \"<<\"");
              return FALSE;
            }
          g_ptr_array_add (merges, element);
        }
      return TRUE;
    }
  set_error_at (error, b->path, (int) mark->line + 1, (int) mark->column + 1,
                "expected a mapping or a list of mappings to merge with \"<<\"");
  return FALSE;
}

static const char *
yaml_event_kind (yaml_event_type_t type)
{
  switch (type)
    {
    case YAML_ALIAS_EVENT:
      return "an alias";
    case YAML_SEQUENCE_START_EVENT:
      return "a list";
    case YAML_MAPPING_START_EVENT:
      return "a mapping";
    default:
      return "a value";
    }
}

static JsonNode *
yaml_build_mapping (LctlYamlBuilder *b,
                    yaml_event_t    *event,
                    unsigned         depth,
                    GError         **error)
{
  g_autoptr (JsonNode) node = json_node_alloc ();
  g_autoptr (JsonObject) object = json_object_new ();
  g_autoptr (GPtrArray) merges = g_ptr_array_new ();
  LctlYamlLocation *location;

  json_node_init_object (node, object);
  location = yaml_location_add (b->locations, node, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1);

  for (;;)
    {
      g_auto (yaml_event_t) key_event = { 0 };
      g_auto (yaml_event_t) value_event = { 0 };
      LctlYamlLocation *child_location;
      const char       *key;
      JsonNode         *child;

      if (!yaml_next_event (b, &key_event, error))
        return NULL;
      if (key_event.type == YAML_MAPPING_END_EVENT)
        break;
      if (key_event.type != YAML_SCALAR_EVENT)
        {
          set_error_at (error, b->path, (int) key_event.start_mark.line + 1, (int) key_event.start_mark.column + 1,
                        "expected a plain key, found %s", yaml_event_kind (key_event.type));
          return NULL;
        }
      key = (const char *) key_event.data.scalar.value;

      if (!yaml_next_event (b, &value_event, error))
        return NULL;
      child = yaml_build_node (b, &value_event, depth + 1, error);
      if (child == NULL)
        return NULL;
      /* The tree owns nothing yet: keep it alive until the build ends. */
      g_ptr_array_add (b->keep, child);
      child_location = g_hash_table_lookup (b->locations, child);
      child_location->key_line = (int) key_event.start_mark.line + 1;
      child_location->key_column = (int) key_event.start_mark.column + 1;

      if (key_event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && g_str_equal (key, "<<"))
        {
          if (!yaml_collect_merge (b, child, &value_event.start_mark, merges, error))
            return NULL;
          continue;
        }

      if (json_object_has_member (object, key))
        {
          const LctlYamlLocation *first = g_hash_table_lookup (b->locations, json_object_get_member (object, key));

          set_error_at (error, b->path, child_location->key_line, child_location->key_column,
                        "duplicate key \"%s\" (first at line %d); expected each key once per mapping", key,
                        first != NULL ? first->key_line : 0);
          return NULL;
        }

      location->size += child_location->size;
      location->height = MAX (location->height, child_location->height + 1);
      json_node_set_parent (child, node);
      json_object_set_member (object, key, json_node_ref (child));
    }

  if (merges->len > 0 && !yaml_apply_merges (b, node, merges, error))
    return NULL;
  return g_steal_pointer (&node);
}

static JsonNode *
yaml_build_node (LctlYamlBuilder *b,
                 yaml_event_t    *event,
                 unsigned         depth,
                 GError         **error)
{
  JsonNode   *node = NULL;
  const char *anchor = NULL;

  if (depth > YAML_MAX_DEPTH)
    {
      set_error_at (error, b->path, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1,
                    "nesting deeper than %u levels; expected a flatter document", YAML_MAX_DEPTH);
      return NULL;
    }

  switch (event->type)
    {
    case YAML_ALIAS_EVENT:
      return yaml_build_alias (b, event, depth, error);

    case YAML_SCALAR_EVENT:
      if (!yaml_account (b, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1, 1, error))
        return NULL;
      node = yaml_scalar_node (event);
      yaml_location_add (b->locations, node, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1);
      anchor = (const char *) event->data.scalar.anchor;
      break;

    case YAML_SEQUENCE_START_EVENT:
      if (!yaml_account (b, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1, 1, error))
        return NULL;
      node = yaml_build_sequence (b, event, depth, error);
      anchor = (const char *) event->data.sequence_start.anchor;
      break;

    case YAML_MAPPING_START_EVENT:
      if (!yaml_account (b, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1, 1, error))
        return NULL;
      node = yaml_build_mapping (b, event, depth, error);
      anchor = (const char *) event->data.mapping_start.anchor;
      break;

    default:
      set_error_at (error, b->path, (int) event->start_mark.line + 1, (int) event->start_mark.column + 1,
                    "unexpected YAML structure; expected a value");
      return NULL;
    }

  if (node != NULL && anchor != NULL)
    g_hash_table_replace (b->anchors, g_strdup (anchor), json_node_ref (node));
  return node;
}

/* Parses one YAML document into a JSON tree, recording locations. An empty
 * stream gives a null node without a location. */
static JsonNode *
yaml_build (const char *data,
            gsize       length,
            const char *path,
            GHashTable *locations,
            GError    **error)
{
  g_auto (yaml_parser_t) parser = { 0 };
  g_auto (yaml_event_t) event = { 0 };
  g_autoptr (GHashTable) anchors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_node_unref);
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr (JsonNode) root = NULL;
  LctlYamlBuilder b = {
    .parser = &parser,
    .data = data,
    .length = length,
    .path = path,
    .locations = locations,
    .anchors = anchors,
    .keep = keep,
  };

  if (!yaml_parser_initialize (&parser))
    {
      set_error_at (error, path, 1, 1, "out of memory while parsing YAML");
      return NULL;
    }
  yaml_parser_set_input_string (&parser, (const unsigned char *) data, length);

  if (!yaml_next_event (&b, &event, error)) /* STREAM-START */
    return NULL;
  yaml_event_delete (&event);
  if (!yaml_next_event (&b, &event, error))
    return NULL;
  if (event.type == YAML_STREAM_END_EVENT)
    return json_node_init_null (json_node_alloc ());
  yaml_event_delete (&event); /* DOCUMENT-START */

  if (!yaml_next_event (&b, &event, error))
    return NULL;
  root = yaml_build_node (&b, &event, 0, error);
  if (root == NULL)
    return NULL;
  yaml_event_delete (&event);

  if (!yaml_next_event (&b, &event, error)) /* DOCUMENT-END */
    return NULL;
  yaml_event_delete (&event);
  if (!yaml_next_event (&b, &event, error))
    return NULL;
  if (event.type == YAML_DOCUMENT_START_EVENT)
    {
      set_error_at (error, path, (int) event.start_mark.line + 1, (int) event.start_mark.column + 1,
                    "a second YAML document; expected a single document in the file");
      return NULL;
    }
  return g_steal_pointer (&root);
}

/**
 * lctl_config_parse_yaml:
 * @data: YAML text
 * @length: its length, or -1 when nul-terminated
 * @path: the file name used in error messages
 * @error: return location for an error
 *
 * Parses one YAML document into JSON with the same typing rules as the
 * configuration loader (YAML 1.1 scalars as PyYAML reads them; anchors,
 * aliases and `<<` merges). `os.environ/` references are left as they are.
 * Used for the provider templates.
 *
 * Returns: (transfer full): the document (a null node for an empty file), or
 *   %NULL with @error set (%LCTL_ERROR_INVALID_CONFIG, `path:line:col: ...`).
 */
JsonNode *
lctl_config_parse_yaml (const char *data,
                        gssize      length,
                        const char *path,
                        GError    **error)
{
  g_autoptr (GHashTable) locations = yaml_locations_new ();

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return yaml_build (data, length < 0 ? strlen (data) : (gsize) length, path, locations, error);
}

/**
 * lctl_config_parse_yaml_file:
 * @path: a YAML file
 * @error: return location for an error
 *
 * Reads @path and parses it with lctl_config_parse_yaml().
 *
 * Returns: (transfer full): the document, or %NULL with @error set.
 */
JsonNode *
lctl_config_parse_yaml_file (const char *path,
                             GError    **error)
{
  g_autofree char *contents = NULL;
  gsize            length = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return lctl_config_parse_yaml (contents, (gssize) length, path, error);
}

/* ------------------------------------------------------------------------ */
/* Messages about nodes of the located tree                                   */
/* ------------------------------------------------------------------------ */

typedef struct
{
  const char *path;
  GHashTable *locations;
  GPtrArray  *warnings;
} LctlConfigLoader;

static void
loader_position (LctlConfigLoader *l,
                 JsonNode         *node,
                 gboolean          at_key,
                 int              *line,
                 int              *column)
{
  *line = 1;
  *column = 1;
  /* Copies made for aliases and merges only know where their top is. */
  for (; node != NULL; node = json_node_get_parent (node))
    {
      const LctlYamlLocation *location = g_hash_table_lookup (l->locations, node);

      if (location == NULL || location->line == 0)
        continue;
      if (at_key && location->key_line > 0)
        {
          *line = location->key_line;
          *column = location->key_column;
        }
      else
        {
          *line = location->line;
          *column = location->column;
        }
      return;
    }
}

static char *
loader_vformat (LctlConfigLoader *l,
                JsonNode         *node,
                gboolean          at_key,
                const char       *format,
                va_list           args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);
  int              line, column;

  loader_position (l, node, at_key, &line, &column);
  return g_strdup_printf ("%s:%d:%d: %s", l->path, line, column, message);
}

static gboolean
loader_fail (LctlConfigLoader *l,
             JsonNode         *node,
             gboolean          at_key,
             GError          **error,
             const char       *format,
             ...) G_GNUC_PRINTF (5, 6);

static gboolean
loader_fail (LctlConfigLoader *l,
             JsonNode         *node,
             gboolean          at_key,
             GError          **error,
             const char       *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list          args;

  va_start (args, format);
  message = loader_vformat (l, node, at_key, format, args);
  va_end (args);
  g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG, message);
  return FALSE;
}

static void
loader_warn (LctlConfigLoader *l,
             JsonNode         *node,
             gboolean          at_key,
             const char       *format,
             ...) G_GNUC_PRINTF (4, 5);

static void
loader_warn (LctlConfigLoader *l,
             JsonNode         *node,
             gboolean          at_key,
             const char       *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (l->warnings, loader_vformat (l, node, at_key, format, args));
  va_end (args);
}

/* What the file holds at @node, for "expected X, found Y". Values that came
 * from the environment are named, never shown: they may be secrets. */
static char *
loader_describe (LctlConfigLoader *l,
                 JsonNode         *node)
{
  const LctlYamlLocation *location = g_hash_table_lookup (l->locations, node);

  if (location != NULL && location->env_name != NULL)
    return g_strdup_printf ("the value of $%s", location->env_name);

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return g_strdup ("a mapping");
    case JSON_NODE_ARRAY:
      return g_strdup ("a list");
    case JSON_NODE_NULL:
      return g_strdup ("nothing (null)");
    case JSON_NODE_VALUE:
    default:
      break;
    }

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "true" : "false");
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE:
      {
        char buffer[G_ASCII_DTOSTR_BUF_SIZE];

        return g_strdup (g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (node)));
      }
    case G_TYPE_STRING:
      {
        const char      *text = json_node_get_string (node);
        g_autofree char *shown = g_utf8_make_valid (text, -1);

        if (g_utf8_strlen (shown, -1) > 40)
          {
            g_autofree char *prefix = g_utf8_substring (shown, 0, 37);

            return g_strdup_printf ("\"%s...\"", prefix);
          }
        return g_strdup_printf ("\"%s\"", shown);
      }
    default:
      return g_strdup ("a value");
    }
}

static const char *
node_string (JsonNode *node)
{
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  return NULL;
}

/* A member that is present and not null. */
static JsonNode *
loader_member (JsonObject *object,
               const char *key)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

static void
loader_check_keys (LctlConfigLoader  *l,
                   JsonObject        *object,
                   const char        *where,
                   const char *const *known)
{
  g_autoptr (GList) members = json_object_get_members (object);

  for (GList *m = members; m != NULL; m = m->next)
    {
      if (g_strv_contains (known, m->data))
        continue;
      if (where == NULL)
        loader_warn (l, json_object_get_member (object, m->data), TRUE, "unknown key \"%s\" at the top level", (const char *) m->data);
      else
        loader_warn (l, json_object_get_member (object, m->data), TRUE, "unknown key \"%s\" in %s", (const char *) m->data, where);
    }
}

static gboolean
loader_get_string (LctlConfigLoader *l,
                   JsonObject       *object,
                   const char       *where,
                   const char       *key,
                   char            **out,
                   GError          **error)
{
  JsonNode        *node = loader_member (object, key);
  g_autofree char *found = NULL;

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (node_string (node) != NULL)
    {
      *out = g_strdup (node_string (node));
      return TRUE;
    }
  found = loader_describe (l, node);
  return loader_fail (l, node, FALSE, error, "expected a string for %s.%s, found %s", where, key, found);
}

/* Numbers may also arrive as text from os.environ/ references. */
static gboolean
node_number (JsonNode *node,
             double   *out)
{
  const char *text;
  char       *end = NULL;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *out = (double) json_node_get_int (node);
      return TRUE;
    case G_TYPE_DOUBLE:
      *out = json_node_get_double (node);
      return isfinite (*out);
    case G_TYPE_STRING:
      text = json_node_get_string (node);
      while (g_ascii_isspace (*text))
        text++;
      if (*text == '\0')
        return FALSE;
      *out = g_ascii_strtod (text, &end);
      while (g_ascii_isspace (*end))
        end++;
      return *end == '\0' && isfinite (*out);
    default:
      return FALSE;
    }
}

/* Leaves *@out alone when the key is absent or null (the default stays). */
static gboolean
loader_get_number (LctlConfigLoader *l,
                   JsonObject       *object,
                   const char       *where,
                   const char       *key,
                   double           *out,
                   GError          **error)
{
  JsonNode        *node = loader_member (object, key);
  g_autofree char *found = NULL;
  double           value;

  if (node == NULL)
    return TRUE;
  if (node_number (node, &value) && value >= 0)
    {
      *out = value;
      return TRUE;
    }
  found = loader_describe (l, node);
  return loader_fail (l, node, FALSE, error, "expected a number of 0 or more for %s.%s, found %s", where, key, found);
}

static gboolean
loader_get_int (LctlConfigLoader *l,
                JsonObject       *object,
                const char       *where,
                const char       *key,
                int              *out,
                GError          **error)
{
  JsonNode        *node = loader_member (object, key);
  g_autofree char *found = NULL;
  double           value;

  if (node == NULL)
    return TRUE;
  if (node_number (node, &value) && value >= 0 && value <= G_MAXINT && value == floor (value))
    {
      *out = (int) value;
      return TRUE;
    }
  found = loader_describe (l, node);
  return loader_fail (l, node, FALSE, error, "expected a whole number of 0 or more for %s.%s, found %s", where, key, found);
}

static gboolean
loader_get_bool (LctlConfigLoader *l,
                 JsonObject       *object,
                 const char       *where,
                 const char       *key,
                 gboolean         *out,
                 GError          **error)
{
  JsonNode        *node = loader_member (object, key);
  g_autofree char *found = NULL;

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    {
      *out = json_node_get_boolean (node);
      return TRUE;
    }
  if (node_string (node) != NULL)
    {
      /* From the environment: accept what a shell user would write. */
      g_autofree char *lower = g_ascii_strdown (node_string (node), -1);
      int              value = yaml_bool_value (g_strstrip (lower));

      if (value == -1 && (g_str_equal (lower, "1") || g_str_equal (lower, "0")))
        value = g_str_equal (lower, "1");
      if (value != -1)
        {
          *out = value;
          return TRUE;
        }
    }
  found = loader_describe (l, node);
  return loader_fail (l, node, FALSE, error, "expected true or false for %s.%s, found %s", where, key, found);
}

/* A mapping member: absent or null gives %NULL and success. */
static gboolean
loader_get_object (LctlConfigLoader *l,
                   JsonObject       *object,
                   const char       *where,
                   const char       *key,
                   JsonObject      **out,
                   GError          **error)
{
  JsonNode        *node = loader_member (object, key);
  g_autofree char *found = NULL;

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      *out = json_node_get_object (node);
      return TRUE;
    }
  found = loader_describe (l, node);
  if (where == NULL)
    return loader_fail (l, node, FALSE, error, "expected a mapping for %s, found %s", key, found);
  return loader_fail (l, node, FALSE, error, "expected a mapping for %s.%s, found %s", where, key, found);
}

/* ------------------------------------------------------------------------ */
/* Step 2: environment                                                        */
/* ------------------------------------------------------------------------ */

typedef struct
{
  JsonNode *first;
  unsigned  count;
} LctlUnsetVariable;

static void
resolve_env_refs (LctlConfigLoader *l,
                  JsonNode         *node,
                  GHashTable       *unset,
                  GPtrArray        *unset_order)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr (GList) members = json_object_get_members (object);

        for (GList *m = members; m != NULL; m = m->next)
          resolve_env_refs (l, json_object_get_member (object, m->data), unset, unset_order);
        break;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (unsigned i = 0; i < json_array_get_length (array); i++)
          resolve_env_refs (l, json_array_get_element (array, i), unset, unset_order);
        break;
      }

    case JSON_NODE_VALUE:
      {
        const char       *text = node_string (node);
        LctlYamlLocation *location;
        const char       *value;
        char             *name;

        if (text == NULL || !g_str_has_prefix (text, ENV_REF_PREFIX))
          break;
        location = g_hash_table_lookup (l->locations, node);
        if (location == NULL)
          location = yaml_location_add (l->locations, node, 0, 0);
        if (location->env_name != NULL)
          break; /* resolved already */
        name = location->env_name = g_strdup (text + strlen (ENV_REF_PREFIX));
        value = g_getenv (name);
        if (value != NULL)
          {
            json_node_set_string (node, value);
          }
        else
          {
            LctlUnsetVariable *variable = g_hash_table_lookup (unset, name);

            /* Re-initialising in place keeps the node's location; it
               * works because the tree holds the only reference now. */
            json_node_init_null (node);
            if (variable == NULL)
              {
                variable = g_new0 (LctlUnsetVariable, 1);
                variable->first = node;
                g_hash_table_insert (unset, name, variable);
                g_ptr_array_add (unset_order, name);
              }
            variable->count++;
          }
        break;
      }

    case JSON_NODE_NULL:
    default:
      break;
    }
}

/* Replaces `os.environ/NAME` strings under @node (skipping the top-level
 * member @skip) and warns once per unset variable, naming it and where it is
 * first used; never the value. */
static void
resolve_env_tree (LctlConfigLoader *l,
                  JsonNode         *node,
                  const char       *skip)
{
  g_autoptr (GHashTable) unset = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr (GPtrArray) unset_order = g_ptr_array_new ();

  if (skip != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (object);

      for (GList *m = members; m != NULL; m = m->next)
        if (!g_str_equal (m->data, skip))
          resolve_env_refs (l, json_object_get_member (object, m->data), unset, unset_order);
    }
  else
    {
      resolve_env_refs (l, node, unset, unset_order);
    }

  for (unsigned i = 0; i < unset_order->len; i++)
    {
      const char              *name = g_ptr_array_index (unset_order, i);
      const LctlUnsetVariable *variable = g_hash_table_lookup (unset, name);

      if (variable->count > 1)
        loader_warn (l, variable->first, FALSE, "environment variable %s is not set (os.environ/%s, used %u times); using null",
                     name, name, variable->count);
      else
        loader_warn (l, variable->first, FALSE, "environment variable %s is not set (os.environ/%s); using null", name, name);
    }
}

static gboolean
env_name_is_valid (const char *name)
{
  if (!g_ascii_isalpha (*name) && *name != '_')
    return FALSE;
  for (name++; *name != '\0'; name++)
    if (!g_ascii_isalnum (*name) && *name != '_')
      return FALSE;
  return TRUE;
}

/* environment_variables: LiteLLM exports each pair into its environment
 * (overriding). litellmctl only fills variables the environment lacks, so
 * the shell (and .env, loaded first) win, and a reload never changes a
 * value an earlier load set. This runs BEFORE os.environ/ references are
 * resolved, so the file can define a variable it then refers to. */
static gboolean
load_environment_variables (LctlConfigLoader *l,
                            JsonObject       *root,
                            GHashTable       *pairs,
                            GError          **error)
{
  JsonNode   *node = loader_member (root, "environment_variables");
  JsonObject *object;
  g_autoptr (GList) members = NULL;
  g_autofree char *found = NULL;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      found = loader_describe (l, node);
      return loader_fail (l, node, FALSE, error, "expected a mapping of NAME: value for environment_variables, found %s", found);
    }

  resolve_env_tree (l, node, NULL);
  object = json_node_get_object (node);
  members = json_object_get_members (object);
  for (GList *m = members; m != NULL; m = m->next)
    {
      const char      *name = m->data;
      JsonNode        *value_node = json_object_get_member (object, name);
      g_autofree char *value = NULL;

      if (!env_name_is_valid (name))
        {
          loader_warn (l, value_node, TRUE, "\"%s\" in environment_variables is not a valid variable name; ignored", name);
          continue;
        }
      if (JSON_NODE_HOLDS_NULL (value_node))
        {
          loader_warn (l, value_node, FALSE, "environment_variables.%s has no value; ignored", name);
          continue;
        }
      if (!JSON_NODE_HOLDS_VALUE (value_node))
        {
          found = loader_describe (l, value_node);
          return loader_fail (l, value_node, FALSE, error, "expected a text value for environment_variables.%s, found %s", name, found);
        }

      switch (json_node_get_value_type (value_node))
        {
        case G_TYPE_STRING:
          value = g_strdup (json_node_get_string (value_node));
          break;
        case G_TYPE_BOOLEAN:
          /* As Python's str() spells them. */
          value = g_strdup (json_node_get_boolean (value_node) ? "True" : "False");
          break;
        case G_TYPE_INT64:
          value = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (value_node));
          break;
        default:
          {
            char buffer[G_ASCII_DTOSTR_BUF_SIZE];

            value = g_strdup (g_ascii_dtostr (buffer, sizeof buffer, json_node_get_double (value_node)));
            break;
          }
        }

      if (g_getenv (name) == NULL)
        g_setenv (name, value, FALSE);
      g_hash_table_replace (pairs, g_strdup (name), g_steal_pointer (&value));
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* .env                                                                       */
/* ------------------------------------------------------------------------ */

/* Parses the value part of a .env line. Returns %NULL (and sets *@problem)
 * when the line is malformed. */
static char *
dotenv_value (const char  *p,
              const char **problem)
{
  GString *value = g_string_new (NULL);

  while (*p == ' ' || *p == '\t')
    p++;

  if (*p == '"' || *p == '\'')
    {
      char quote = *p++;

      for (; *p != '\0' && *p != quote; p++)
        {
          if (quote == '"' && *p == '\\' && p[1] != '\0')
            {
              p++;
              switch (*p)
                {
                case 'n':
                  g_string_append_c (value, '\n');
                  break;
                case 't':
                  g_string_append_c (value, '\t');
                  break;
                case 'r':
                  g_string_append_c (value, '\r');
                  break;
                case '"':
                case '\\':
                  g_string_append_c (value, *p);
                  break;
                default:
                  g_string_append_c (value, '\\');
                  g_string_append_c (value, *p);
                  break;
                }
              continue;
            }
          g_string_append_c (value, *p);
        }
      if (*p != quote)
        {
          *problem = quote == '"' ? "unterminated double-quoted value" : "unterminated single-quoted value";
          g_string_free (value, TRUE);
          return NULL;
        }
      for (p++; *p == ' ' || *p == '\t'; p++)
        ;
      if (*p != '\0' && *p != '#')
        {
          *problem = "unexpected text after the closing quote";
          g_string_free (value, TRUE);
          return NULL;
        }
      return g_string_free (value, FALSE);
    }

  /* Unquoted: a '#' after whitespace starts a comment. */
  for (; *p != '\0'; p++)
    {
      if (*p == '#' && value->len > 0 && (value->str[value->len - 1] == ' ' || value->str[value->len - 1] == '\t'))
        break;
      g_string_append_c (value, *p);
    }
  g_strchomp (value->str);
  value->len = strlen (value->str);
  return g_string_free (value, FALSE);
}

static int
dotenv_load (const char *path,
             GPtrArray  *warnings,
             GError    **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) pairs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) order = g_ptr_array_new_with_free_func (g_free);
  GStatBuf st;
  int      set = 0;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return 0;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }

  /* It holds API keys. */
  if (g_stat (path, &st) == 0 && (st.st_mode & 0077) != 0)
    g_ptr_array_add (warnings, g_strdup_printf ("%s: readable by other users; expected mode 0600 (chmod 600 %s)", path, path));

  lines = g_strsplit (contents, "\n", -1);
  for (gsize n = 0; lines[n] != NULL; n++)
    {
      char       *line = lines[n];
      const char *problem = NULL;
      char       *equals;
      char       *key;
      char       *value;

      g_strchomp (line); /* also drops the '\r' of CRLF files */
      line = g_strchug (line);
      if (*line == '\0' || *line == '#')
        continue;
      if (g_str_has_prefix (line, "export") && (line[6] == ' ' || line[6] == '\t'))
        line = g_strchug (line + 6);

      equals = strchr (line, '=');
      if (equals == NULL)
        {
          /* The line is not echoed: it may be a pasted secret. */
          g_ptr_array_add (warnings, g_strdup_printf ("%s:%zu: expected KEY=VALUE; line ignored", path, n + 1));
          continue;
        }
      *equals = '\0';
      key = g_strstrip (line);
      if (!env_name_is_valid (key))
        {
          g_ptr_array_add (warnings, g_strdup_printf ("%s:%zu: expected a variable name (letters, digits, _) before '='; line ignored",
                                                      path, n + 1));
          continue;
        }
      value = dotenv_value (equals + 1, &problem);
      if (value == NULL)
        {
          g_ptr_array_add (warnings, g_strdup_printf ("%s:%zu: %s for %s; line ignored", path, n + 1, problem, key));
          continue;
        }
      /* Last assignment wins, as with python-dotenv. */
      if (!g_hash_table_contains (pairs, key))
        g_ptr_array_add (order, g_strdup (key));
      g_hash_table_replace (pairs, g_strdup (key), value);
    }

  for (unsigned i = 0; i < order->len; i++)
    {
      const char *key = g_ptr_array_index (order, i);

      if (g_getenv (key) == NULL)
        {
          g_setenv (key, g_hash_table_lookup (pairs, key), FALSE);
          set++;
        }
    }
  return set;
}

/**
 * lctl_config_load_dotenv_full:
 * @path: a `.env` file
 * @warnings: (out) (optional) (array zero-terminated=1) (transfer full):
 *   `file:line: message` for each malformed line
 * @error: return location for an error
 *
 * Reads `KEY=VALUE` lines (`#` comments, blank lines, an optional `export `
 * prefix, optional single or double quotes; `\n`, `\"` and `\\` inside
 * double quotes) and sets each variable the environment does not have yet.
 * A missing file sets nothing and is not an error. Warnings never contain
 * values.
 *
 * Call it from the main thread before other threads read the environment.
 *
 * Returns: how many variables were set, or -1 with @error set when the file
 *   exists but cannot be read.
 */
int
lctl_config_load_dotenv_full (const char *path,
                              char     ***warnings,
                              GError    **error)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  int set;

  g_return_val_if_fail (path != NULL, -1);

  set = dotenv_load (path, found, error);
  if (warnings != NULL)
    {
      g_ptr_array_add (found, NULL);
      *warnings = (char **) g_ptr_array_steal (found, NULL);
    }
  return set;
}

/**
 * lctl_config_load_dotenv:
 * @path: a `.env` file
 * @error: return location for an error
 *
 * Like lctl_config_load_dotenv_full(), logging warnings with g_message().
 *
 * Returns: how many variables were set, or -1 with @error set.
 */
int
lctl_config_load_dotenv (const char *path,
                         GError    **error)
{
  g_auto (GStrv) warnings = NULL;
  int set = lctl_config_load_dotenv_full (path, &warnings, error);

  for (gsize i = 0; warnings[i] != NULL; i++)
    g_message ("%s", warnings[i]);
  return set;
}

/* ------------------------------------------------------------------------ */
/* Step 3: JSON → snapshot                                                    */
/* ------------------------------------------------------------------------ */

typedef struct
{
  LctlConfig      config; /* first, so the public pointer is the private one */
  gatomicrefcount ref_count;
  JsonNode       *root;
  GHashTable     *groups; /* model_name -> GPtrArray of LctlDeployment (borrowed) */
} LctlConfigPrivate;

static void
deployment_free (gpointer data)
{
  LctlDeployment *deployment = data;

  g_free (deployment->model_name);
  g_free (deployment->model);
  g_free (deployment->provider);
  g_free (deployment->upstream_model);
  g_free (deployment->api_base);
  g_free (deployment->api_key);
  g_free (deployment->mock_response);
  g_clear_pointer (&deployment->params, json_object_unref);
  g_clear_pointer (&deployment->model_info, json_object_unref);
  g_free (deployment->id);
  g_free (deployment);
}

static void
fallback_free (gpointer data)
{
  LctlFallback *fallback = data;

  g_free (fallback->model_name);
  g_strfreev (fallback->chain);
  g_free (fallback);
}

static LctlConfig *
config_new (const char *path)
{
  LctlConfigPrivate *priv = g_new0 (LctlConfigPrivate, 1);
  LctlConfig        *self = &priv->config;

  g_atomic_ref_count_init (&priv->ref_count);
  priv->groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_ptr_array_unref);
  self->path = g_strdup (path);
  self->deployments = g_ptr_array_new_with_free_func (deployment_free);
  self->router.num_retries = 0;
  self->router.allowed_fails = 3;
  self->router.cooldown_time = 5;
  self->router.max_cooldown_time = 60;
  self->router.max_fallbacks = 5;
  self->router.routing_strategy = g_strdup ("simple-shuffle");
  self->router.fallbacks = g_ptr_array_new_with_free_func (fallback_free);
  self->router.context_window_fallbacks = g_ptr_array_new_with_free_func (fallback_free);
  self->router.content_policy_fallbacks = g_ptr_array_new_with_free_func (fallback_free);
  self->router.model_group_alias = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->request_timeout = 600;
  self->max_request_body = DEFAULT_MAX_REQUEST_BODY;
  self->environment_variables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

static void
config_free (LctlConfig *self)
{
  LctlConfigPrivate *priv = (LctlConfigPrivate *) self;

  g_free (self->path);
  g_ptr_array_unref (self->deployments);
  g_strfreev (self->model_names);
  g_free (self->router.routing_strategy);
  g_ptr_array_unref (self->router.fallbacks);
  g_ptr_array_unref (self->router.context_window_fallbacks);
  g_ptr_array_unref (self->router.content_policy_fallbacks);
  g_hash_table_unref (self->router.model_group_alias);
  g_free (self->master_key);
  g_clear_pointer (&self->litellm_settings, json_object_unref);
  g_clear_pointer (&self->general_settings, json_object_unref);
  g_hash_table_unref (self->environment_variables);
  g_strfreev (self->warnings);
  g_hash_table_unref (priv->groups);
  g_clear_pointer (&priv->root, json_node_unref);
  g_free (priv);
}

static LctlDeployment *
parse_deployment (LctlConfigLoader *l,
                  JsonNode         *entry_node,
                  unsigned          index,
                  GError          **error)
{
  static const char *const known[] = { "model_name", "litellm_params", "model_info", NULL };
  g_autofree char         *where = g_strdup_printf ("model_list[%u]", index);
  g_autofree char         *params_where = g_strdup_printf ("model_list[%u].litellm_params", index);
  g_autofree char         *found = NULL;
  LctlDeployment          *deployment;
  JsonObject              *entry;
  JsonObject              *params;
  JsonObject              *model_info;
  JsonNode                *name_node;
  JsonNode                *model_node;
  const char              *model_name;
  const char              *model;
  const char              *slash;

  if (!JSON_NODE_HOLDS_OBJECT (entry_node))
    {
      found = loader_describe (l, entry_node);
      loader_fail (l, entry_node, FALSE, error, "expected a mapping with model_name and litellm_params for %s, found %s", where, found);
      return NULL;
    }
  entry = json_node_get_object (entry_node);
  loader_check_keys (l, entry, where, known);

  name_node = loader_member (entry, "model_name");
  model_name = node_string (name_node);
  if (name_node == NULL)
    {
      loader_fail (l, entry_node, FALSE, error, "%s has no model_name; expected \"model_name: <group name>\"", where);
      return NULL;
    }
  if (model_name == NULL || *model_name == '\0')
    {
      found = loader_describe (l, name_node);
      loader_fail (l, name_node, FALSE, error, "expected a model group name for %s.model_name, found %s", where, found);
      return NULL;
    }

  if (!loader_get_object (l, entry, where, "litellm_params", &params, error))
    return NULL;
  if (params == NULL)
    {
      loader_fail (l, entry_node, FALSE, error, "%s (%s) has no litellm_params; expected a mapping with \"model: <provider>/<model>\"",
                   where, model_name);
      return NULL;
    }

  model_node = loader_member (params, "model");
  model = node_string (model_node);
  if (model_node == NULL)
    {
      loader_fail (l, json_object_get_member (entry, "litellm_params"), FALSE, error,
                   "%s has no model; expected \"model: <provider>/<model>\"", params_where);
      return NULL;
    }
  slash = model != NULL ? strchr (model, '/') : NULL;
  if (slash == NULL || slash == model || slash[1] == '\0')
    {
      found = loader_describe (l, model_node);
      loader_fail (l, model_node, FALSE, error, "expected \"<provider>/<model>\" (e.g. anthropic/claude-sonnet-4-5) for %s.model, found %s",
                   params_where, found);
      return NULL;
    }

  deployment = g_new0 (LctlDeployment, 1);
  deployment->model_name = g_strdup (model_name);
  deployment->model = g_strdup (model);
  deployment->provider = g_strndup (model, slash - model);
  deployment->upstream_model = g_strdup (slash + 1);
  deployment->weight = 1;
  deployment->index = index;
  deployment->id = g_strdup_printf ("%s#%u", model_name, index);
  deployment->params = json_object_ref (params);

  if (!loader_get_string (l, params, params_where, "api_base", &deployment->api_base, error) || !loader_get_string (l, params, params_where, "api_key", &deployment->api_key, error) || !loader_get_number (l, params, params_where, "timeout", &deployment->timeout, error) || !loader_get_number (l, params, params_where, "stream_timeout", &deployment->stream_timeout, error) || !loader_get_int (l, params, params_where, "weight", &deployment->weight, error) || !loader_get_string (l, params, params_where, "mock_response", &deployment->mock_response, error) || !loader_get_object (l, entry, where, "model_info", &model_info, error))
    {
      deployment_free (deployment);
      return NULL;
    }
  if (model_info != NULL)
    deployment->model_info = json_object_ref (model_info);
  return deployment;
}

static gboolean
parse_model_list (LctlConfigLoader *l,
                  LctlConfig       *self,
                  JsonObject       *root,
                  GError          **error)
{
  LctlConfigPrivate *priv = (LctlConfigPrivate *) self;
  JsonNode          *node = json_object_get_member (root, "model_list");
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *found = NULL;
  JsonArray       *array;

  if (node == NULL)
    {
      g_ptr_array_add (l->warnings, g_strdup_printf ("%s:1:1: no model_list; the proxy has no models", l->path));
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      array = json_node_get_array (node);
      for (unsigned i = 0; i < json_array_get_length (array); i++)
        {
          LctlDeployment *deployment = parse_deployment (l, json_array_get_element (array, i), i, error);
          GPtrArray      *group;

          if (deployment == NULL)
            return FALSE;
          g_ptr_array_add (self->deployments, deployment);
          group = g_hash_table_lookup (priv->groups, deployment->model_name);
          if (group == NULL)
            {
              group = g_ptr_array_new ();
              g_hash_table_insert (priv->groups, deployment->model_name, group);
              g_ptr_array_add (names, g_strdup (deployment->model_name));
            }
          g_ptr_array_add (group, deployment);
        }
    }
  else if (!JSON_NODE_HOLDS_NULL (node))
    {
      found = loader_describe (l, node);
      return loader_fail (l, node, FALSE, error, "expected a list of deployments (\"- model_name: ...\") for model_list, found %s", found);
    }

  g_ptr_array_add (names, NULL);
  self->model_names = (char **) g_ptr_array_steal (names, NULL);
  return TRUE;
}

/* A name a fallback or alias may point at: a group, an alias, or a name a
 * wildcard group (such as `anthropic/` followed by `*`) would serve. */
static gboolean
config_knows_group (LctlConfig *self,
                    const char *name)
{
  LctlConfigPrivate *priv = (LctlConfigPrivate *) self;

  if (g_str_equal (name, "*") || g_hash_table_contains (priv->groups, name) || g_hash_table_contains (self->router.model_group_alias, name))
    return TRUE;
  for (gsize i = 0; self->model_names[i] != NULL; i++)
    if (strchr (self->model_names[i], '*') != NULL && g_pattern_match_simple (self->model_names[i], name))
      return TRUE;
  return FALSE;
}

static gboolean
fallback_list_contains (GPtrArray  *fallbacks,
                        const char *model_name)
{
  for (unsigned i = 0; i < fallbacks->len; i++)
    if (g_str_equal (((LctlFallback *) g_ptr_array_index (fallbacks, i))->model_name, model_name))
      return TRUE;
  return FALSE;
}

static gboolean
parse_fallbacks (LctlConfigLoader *l,
                 LctlConfig       *self,
                 JsonObject       *router,
                 const char       *key,
                 GPtrArray        *out,
                 GError          **error)
{
  JsonNode        *node = loader_member (router, key);
  g_autofree char *found = NULL;
  JsonArray       *array;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      found = loader_describe (l, node);
      return loader_fail (l, node, FALSE, error, "expected a list of {model group: [fallback groups]} for router_settings.%s, found %s", key, found);
    }

  array = json_node_get_array (node);
  for (unsigned i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      g_autoptr (GList) members = NULL;
      JsonObject *object;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          found = loader_describe (l, item);
          return loader_fail (l, item, FALSE, error, "expected {model group: [fallback groups]} for router_settings.%s[%u], found %s", key, i, found);
        }
      object = json_node_get_object (item);
      members = json_object_get_members (object);
      /* LiteLLM writes one group per item; several are accepted alike. */
      for (GList *m = members; m != NULL; m = m->next)
        {
          const char *group = m->data;
          JsonNode   *chain_node = json_object_get_member (object, group);
          g_autoptr (GPtrArray) chain = g_ptr_array_new_with_free_func (g_free);
          LctlFallback *fallback;

          if (node_string (chain_node) != NULL)
            {
              g_ptr_array_add (chain, g_strdup (node_string (chain_node)));
              if (!config_knows_group (self, node_string (chain_node)))
                loader_warn (l, chain_node, FALSE, "fallback \"%s\" in router_settings.%s names no model group in model_list", node_string (chain_node), key);
            }
          else if (JSON_NODE_HOLDS_ARRAY (chain_node))
            {
              JsonArray *elements = json_node_get_array (chain_node);

              for (unsigned j = 0; j < json_array_get_length (elements); j++)
                {
                  JsonNode   *element = json_array_get_element (elements, j);
                  const char *name = node_string (element);

                  if (name == NULL)
                    {
                      found = loader_describe (l, element);
                      return loader_fail (l, element, FALSE, error, "expected a model group name in router_settings.%s[%u].%s, found %s", key, i, group, found);
                    }
                  if (!config_knows_group (self, name))
                    loader_warn (l, element, FALSE, "fallback \"%s\" in router_settings.%s names no model group in model_list", name, key);
                  g_ptr_array_add (chain, g_strdup (name));
                }
            }
          else if (!JSON_NODE_HOLDS_NULL (chain_node))
            {
              found = loader_describe (l, chain_node);
              return loader_fail (l, chain_node, FALSE, error, "expected a list of model groups for router_settings.%s[%u].%s, found %s", key, i, group, found);
            }

          if (!config_knows_group (self, group))
            loader_warn (l, chain_node, TRUE, "fallbacks for \"%s\" in router_settings.%s: no such model group in model_list", group, key);
          if (fallback_list_contains (out, group))
            {
              loader_warn (l, chain_node, TRUE, "a second fallback chain for \"%s\" in router_settings.%s; ignored (the first one is used)", group, key);
              continue;
            }

          fallback = g_new0 (LctlFallback, 1);
          fallback->model_name = g_strdup (group);
          g_ptr_array_add (chain, NULL);
          fallback->chain = (char **) g_ptr_array_steal (chain, NULL);
          g_ptr_array_add (out, fallback);
        }
    }
  return TRUE;
}

static gboolean
parse_model_group_alias (LctlConfigLoader *l,
                         LctlConfig       *self,
                         JsonObject       *router,
                         GError          **error)
{
  JsonObject *aliases;
  g_autoptr (GList) members = NULL;

  if (!loader_get_object (l, router, "router_settings", "model_group_alias", &aliases, error))
    return FALSE;
  if (aliases == NULL)
    return TRUE;

  members = json_object_get_members (aliases);
  for (GList *m = members; m != NULL; m = m->next)
    {
      JsonNode   *value = json_object_get_member (aliases, m->data);
      const char *group = node_string (value);

      /* LiteLLM also takes {model: group, hidden: bool}. */
      if (group == NULL && JSON_NODE_HOLDS_OBJECT (value))
        group = node_string (json_object_get_member (json_node_get_object (value), "model"));
      if (group == NULL)
        {
          g_autofree char *found = loader_describe (l, value);

          return loader_fail (l, value, FALSE, error, "expected a model group name or {model: group} for router_settings.model_group_alias.%s, found %s",
                              (const char *) m->data, found);
        }
      g_hash_table_replace (self->router.model_group_alias, g_strdup (m->data), g_strdup (group));
    }

  for (GList *m = members; m != NULL; m = m->next)
    {
      const char *group = g_hash_table_lookup (self->router.model_group_alias, m->data);

      if (!g_hash_table_contains (((LctlConfigPrivate *) self)->groups, group) && !config_knows_group (self, group))
        loader_warn (l, json_object_get_member (aliases, m->data), FALSE, "alias \"%s\" points at \"%s\", which is no model group in model_list",
                     (const char *) m->data, group);
    }
  return TRUE;
}

static gboolean
parse_router_settings (LctlConfigLoader *l,
                       LctlConfig       *self,
                       JsonObject       *root,
                       GError          **error)
{
  static const char *const known[] = {
    "num_retries", "timeout", "stream_timeout", "retry_after", "allowed_fails", "cooldown_time",
    "max_cooldown_time", "max_fallbacks", "routing_strategy", "fallbacks", "context_window_fallbacks",
    "content_policy_fallbacks", "model_group_alias", NULL
  };
  static const char *const strategies[] = {
    "simple-shuffle", "least-busy", "usage-based-routing", "usage-based-routing-v2",
    "latency-based-routing", "cost-based-routing", NULL
  };
  JsonObject *router;
  char       *strategy = NULL;

  if (!loader_get_object (l, root, NULL, "router_settings", &router, error))
    return FALSE;
  if (router == NULL)
    return TRUE;
  loader_check_keys (l, router, "router_settings", known);

  if (!loader_get_int (l, router, "router_settings", "num_retries", &self->router.num_retries, error) || !loader_get_number (l, router, "router_settings", "timeout", &self->router.timeout, error) || !loader_get_number (l, router, "router_settings", "stream_timeout", &self->router.stream_timeout, error) || !loader_get_number (l, router, "router_settings", "retry_after", &self->router.retry_after, error) || !loader_get_int (l, router, "router_settings", "allowed_fails", &self->router.allowed_fails, error) || !loader_get_number (l, router, "router_settings", "cooldown_time", &self->router.cooldown_time, error) || !loader_get_number (l, router, "router_settings", "max_cooldown_time", &self->router.max_cooldown_time, error) || !loader_get_int (l, router, "router_settings", "max_fallbacks", &self->router.max_fallbacks, error) || !loader_get_string (l, router, "router_settings", "routing_strategy", &strategy, error))
    return FALSE;

  if (strategy != NULL)
    {
      if (!g_strv_contains (strategies, strategy))
        loader_warn (l, json_object_get_member (router, "routing_strategy"), FALSE,
                     "unknown routing_strategy \"%s\"; expected simple-shuffle, least-busy, usage-based-routing(-v2), latency-based-routing or cost-based-routing",
                     strategy);
      g_free (self->router.routing_strategy);
      self->router.routing_strategy = strategy;
    }

  /* Aliases first: a fallback may name one. */
  return parse_model_group_alias (l, self, router, error) && parse_fallbacks (l, self, router, "fallbacks", self->router.fallbacks, error) && parse_fallbacks (l, self, router, "context_window_fallbacks", self->router.context_window_fallbacks, error) && parse_fallbacks (l, self, router, "content_policy_fallbacks", self->router.content_policy_fallbacks, error);
}

static gboolean
parse_litellm_settings (LctlConfigLoader *l,
                        LctlConfig       *self,
                        JsonObject       *root,
                        GError          **error)
{
  static const char *const known[] = {
    "drop_params", "request_timeout", "set_verbose", "json_logs", "num_retries", "modify_params", "ssl_verify", NULL
  };
  JsonObject *settings;
  gboolean    set_verbose = FALSE;
  int         num_retries = 0;

  if (!loader_get_object (l, root, NULL, "litellm_settings", &settings, error))
    return FALSE;
  self->litellm_settings = settings != NULL ? json_object_ref (settings) : json_object_new ();
  json_object_seal (self->litellm_settings);
  if (settings == NULL)
    return TRUE;
  loader_check_keys (l, settings, "litellm_settings", known);

  if (!loader_get_bool (l, settings, "litellm_settings", "drop_params", &self->drop_params, error) || !loader_get_number (l, settings, "litellm_settings", "request_timeout", &self->request_timeout, error) || !loader_get_bool (l, settings, "litellm_settings", "set_verbose", &set_verbose, error) || !loader_get_int (l, settings, "litellm_settings", "num_retries", &num_retries, error))
    return FALSE;
  if (self->request_timeout == 0)
    return loader_fail (l, json_object_get_member (settings, "request_timeout"), FALSE, error,
                        "expected a number of seconds above 0 for litellm_settings.request_timeout, found 0");
  return TRUE;
}

static gboolean
parse_general_settings (LctlConfigLoader *l,
                        LctlConfig       *self,
                        JsonObject       *root,
                        GError          **error)
{
  static const char *const known[] = { "master_key", "max_request_size_mb", NULL };
  JsonObject              *settings;
  double                   megabytes = -1;

  if (!loader_get_object (l, root, NULL, "general_settings", &settings, error))
    return FALSE;
  self->general_settings = settings != NULL ? json_object_ref (settings) : json_object_new ();
  json_object_seal (self->general_settings);
  if (settings == NULL)
    return TRUE;
  loader_check_keys (l, settings, "general_settings", known);

  if (!loader_get_string (l, settings, "general_settings", "master_key", &self->master_key, error) || !loader_get_number (l, settings, "general_settings", "max_request_size_mb", &megabytes, error))
    return FALSE;
  if (megabytes >= 0)
    {
      if (megabytes <= 0 || megabytes > 1024 * 1024)
        {
          g_autofree char *found = loader_describe (l, json_object_get_member (settings, "max_request_size_mb"));

          return loader_fail (l, json_object_get_member (settings, "max_request_size_mb"), FALSE, error,
                              "expected a size in MiB above 0 and at most 1048576 for general_settings.max_request_size_mb, found %s", found);
        }
      self->max_request_body = (gsize) (megabytes * 1024 * 1024);
    }
  return TRUE;
}

static LctlConfig *
config_load_internal (const char *data,
                      gsize       length,
                      const char *path,
                      GPtrArray  *warnings,
                      GError    **error)
{
  static const char *const known[] = {
    "model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables", NULL
  };
  g_autoptr (GHashTable) locations = yaml_locations_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (LctlConfig) self = NULL;
  LctlConfigLoader loader = { .path = path, .locations = locations, .warnings = warnings };
  JsonObject      *object;

  root = yaml_build (data, length, path, locations, error);
  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_autofree char *found = NULL;

      if (g_hash_table_lookup (locations, root) == NULL)
        found = g_strdup ("an empty file");
      else
        found = loader_describe (&loader, root);
      loader_fail (&loader, root, FALSE, error, "expected a mapping with model_list, router_settings, ... at the top level, found %s", found);
      return NULL;
    }
  object = json_node_get_object (root);
  loader_check_keys (&loader, object, NULL, known);

  self = config_new (path);
  if (!load_environment_variables (&loader, object, self->environment_variables, error))
    return NULL;
  resolve_env_tree (&loader, root, "environment_variables");

  if (!parse_model_list (&loader, self, object, error) || !parse_router_settings (&loader, self, object, error) || !parse_litellm_settings (&loader, self, object, error) || !parse_general_settings (&loader, self, object, error))
    return NULL;

  /* Immutable from here: requests share the objects across threads. */
  json_node_seal (root);
  ((LctlConfigPrivate *) self)->root = g_steal_pointer (&root);
  return g_steal_pointer (&self);
}

static char **
warnings_to_strv (GPtrArray *warnings)
{
  g_ptr_array_add (warnings, NULL);
  return (char **) g_ptr_array_steal (warnings, NULL);
}

/**
 * lctl_config_load_from_data:
 * @data: the YAML text of a LiteLLM `config.yaml`
 * @length: its length, or -1 when nul-terminated
 * @path: the file name used in messages and stored in #LctlConfig.path
 * @error: return location for an error
 *
 * Parses a configuration. `environment_variables` are exported where the
 * environment lacks them, then `os.environ/NAME` values are resolved. Does
 * not read `.env` (see lctl_config_load()).
 *
 * Returns: (transfer full): a new snapshot, or %NULL with @error set
 *   (%LCTL_ERROR_INVALID_CONFIG, message `path:line:col: ...`).
 */
LctlConfig *
lctl_config_load_from_data (const char *data,
                            gssize      length,
                            const char *path,
                            GError    **error)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  LctlConfig *self;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = config_load_internal (data, length < 0 ? strlen (data) : (gsize) length, path, warnings, error);
  if (self != NULL)
    self->warnings = warnings_to_strv (warnings);
  return self;
}

/**
 * lctl_config_load:
 * @path: a LiteLLM `config.yaml`
 * @error: return location for an error
 *
 * Loads `.env` beside @path (lctl_config_load_dotenv_full(); its warnings
 * join the config's), then the file itself (lctl_config_load_from_data()).
 *
 * Returns: (transfer full): a new snapshot, or %NULL with @error set:
 *   %LCTL_ERROR_NOT_FOUND when @path does not exist,
 *   %LCTL_ERROR_INVALID_CONFIG otherwise.
 */
LctlConfig *
lctl_config_load (const char *path,
                  GError    **error)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *directory = NULL;
  g_autofree char *dotenv = NULL;
  gsize            length = 0;
  LctlConfig      *self;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, LCTL_ERROR,
                   g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? LCTL_ERROR_NOT_FOUND : LCTL_ERROR_INVALID_CONFIG,
                   "%s", local_error->message);
      return NULL;
    }

  directory = g_path_get_dirname (path);
  dotenv = g_build_filename (directory, ".env", NULL);
  if (dotenv_load (dotenv, warnings, &local_error) < 0)
    {
      g_ptr_array_add (warnings, g_strdup_printf ("%s: %s; not loaded", dotenv, local_error->message));
      g_clear_error (&local_error);
    }

  self = config_load_internal (contents, length, path, warnings, error);
  if (self != NULL)
    self->warnings = warnings_to_strv (warnings);
  return self;
}

/**
 * lctl_config_ref:
 * @self: a config
 *
 * Returns: (transfer full): @self
 */
LctlConfig *
lctl_config_ref (LctlConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&((LctlConfigPrivate *) self)->ref_count);
  return self;
}

/**
 * lctl_config_unref:
 * @self: (transfer full): a config
 *
 * Drops a reference; the last one frees the snapshot.
 */
void
lctl_config_unref (LctlConfig *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&((LctlConfigPrivate *) self)->ref_count))
    config_free (self);
}

/**
 * lctl_config_default_path:
 *
 * Returns: (transfer full): `$XDG_CONFIG_HOME/litellmctl/config.yaml`
 */
char *
lctl_config_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "litellmctl", "config.yaml", NULL);
}

/**
 * lctl_config_default_template_path:
 *
 * The shipped default configuration: `$LITELLMCTL_TEMPLATES_DIR/config.yaml`
 * when that variable is set, else the installed one, else the one in the
 * source tree (an uninstalled build).
 *
 * Returns: (transfer full): a path
 */
char *
lctl_config_default_template_path (void)
{
  const char      *override = g_getenv ("LITELLMCTL_TEMPLATES_DIR");
  g_autofree char *installed = NULL;

  if (override != NULL && *override != '\0')
    return g_build_filename (override, "config.yaml", NULL);
  installed = g_build_filename (PKGDATADIR, "templates", "config.yaml", NULL);
  if (g_file_test (installed, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&installed);
  return g_build_filename (SOURCE_TEMPLATES_DIR, "config.yaml", NULL);
}

/**
 * lctl_config_find_deployment:
 * @self: a config
 * @model_name: a model group name
 *
 * Returns: (transfer none) (nullable): the first deployment of the group
 */
const LctlDeployment *
lctl_config_find_deployment (LctlConfig *self,
                             const char *model_name)
{
  GPtrArray *group;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (model_name != NULL, NULL);

  group = g_hash_table_lookup (((LctlConfigPrivate *) self)->groups, model_name);
  return group != NULL ? g_ptr_array_index (group, 0) : NULL;
}

/**
 * lctl_config_get_group:
 * @self: a config
 * @model_name: a model group name
 *
 * Returns: (transfer container) (element-type LctlDeployment): the group's
 *   deployments in file order, empty when there is no such group. Free the
 *   array only; the deployments belong to @self.
 */
GPtrArray *
lctl_config_get_group (LctlConfig *self,
                       const char *model_name)
{
  GPtrArray *group;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (model_name != NULL, NULL);

  group = g_hash_table_lookup (((LctlConfigPrivate *) self)->groups, model_name);
  if (group == NULL)
    return g_ptr_array_new ();
  return g_ptr_array_copy (group, NULL, NULL);
}

/**
 * lctl_config_find_fallback:
 * @fallbacks: (element-type LctlFallback): one of the router's fallback lists
 * @model_name: a model group name
 *
 * Returns: (transfer none) (nullable): the chain for @model_name, else the
 *   `"*"` chain LiteLLM applies to every group, else %NULL
 */
const LctlFallback *
lctl_config_find_fallback (GPtrArray  *fallbacks,
                           const char *model_name)
{
  const LctlFallback *wildcard = NULL;

  g_return_val_if_fail (fallbacks != NULL, NULL);
  g_return_val_if_fail (model_name != NULL, NULL);

  for (unsigned i = 0; i < fallbacks->len; i++)
    {
      const LctlFallback *fallback = g_ptr_array_index (fallbacks, i);

      if (g_str_equal (fallback->model_name, model_name))
        return fallback;
      if (wildcard == NULL && g_str_equal (fallback->model_name, "*"))
        wildcard = fallback;
    }
  return wildcard;
}

/**
 * lctl_config_resolve_alias:
 * @self: a config
 * @model_name: a name a client asked for
 *
 * Returns: (transfer none): the group `router_settings.model_group_alias`
 *   maps @model_name to, or @model_name itself
 */
const char *
lctl_config_resolve_alias (LctlConfig *self,
                           const char *model_name)
{
  const char *group;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (model_name != NULL, NULL);

  group = g_hash_table_lookup (self->router.model_group_alias, model_name);
  return group != NULL ? group : model_name;
}
