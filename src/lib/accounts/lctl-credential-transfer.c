/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-accounts"

#include "lctl-credential-transfer.h"
#include "lctl-error.h"
#include "lctl-oauth-provider.h"
#include "lctl-oauth-util.h"

/* Moving credentials between machines (PROTOCOLS.md §4). Our script holds
 * one `provider:base64(json)` word per credential. On the target it pipes
 * those words into `litellmctl auth import` when litellmctl is installed
 * (so they land in its store, keyring or files), and otherwise writes the
 * file backend's files itself; bash and base64 are all it needs. */

static const char script_tail[] = "if command -v litellmctl >/dev/null 2>&1 \\\n"
                                  "   && printf '%s\\n' \"${LITELLMCTL_CREDENTIALS[@]}\" | litellmctl auth import; then\n"
                                  "  :\n"
                                  "else\n"
                                  "  D=\"${XDG_DATA_HOME:-$HOME/.local/share}/litellmctl/auth\"\n"
                                  "  (umask 077 && mkdir -p \"$D\")\n"
                                  "  chmod 700 \"$D\"\n"
                                  "  for c in \"${LITELLMCTL_CREDENTIALS[@]}\"; do\n"
                                  "    p=\"${c%%:*}\"\n"
                                  "    (umask 077 && printf '%s' \"${c#*:}\" | base64 -d > \"$D/.$p.json.tmp\")\n"
                                  "    chmod 600 \"$D/.$p.json.tmp\"\n"
                                  "    mv -f \"$D/.$p.json.tmp\" \"$D/$p.json\"\n"
                                  "    echo \"  ✓ $p  ($D/$p.json)\"\n"
                                  "  done\n"
                                  "  echo \"Done! Imported to $D\"\n"
                                  "fi\n";

/**
 * lctl_credential_transfer_export:
 * @records: (element-type utf8 JsonObject): Provider key → record.
 *
 * Returns: (transfer full): A self-contained bash transfer script. It holds
 *   secrets.
 */
char *
lctl_credential_transfer_export (GHashTable *records)
{
  GString *out = g_string_new (NULL);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);
  g_autofree char         *joined = NULL;

  for (gsize i = 0; i < n; i++)
    if (g_hash_table_contains (records, providers[i].id))
      g_ptr_array_add (names, (gpointer) providers[i].id);
  g_ptr_array_add (names, NULL);
  joined = g_strjoinv (", ", (char **) names->pdata);

  g_string_append (out, "#!/usr/bin/env bash\n"
                        "# litellmctl credential transfer\n");
  g_string_append_printf (out, "# Generated: %s\n# Credentials: %s\n", stamp, joined);
  g_string_append (out, "#\n"
                        "# Paste this entire block into a terminal on the target machine.\n"
                        "# It needs only bash and base64. With litellmctl installed the\n"
                        "# credentials go to its store (keyring or files); otherwise they are\n"
                        "# written to ${XDG_DATA_HOME:-~/.local/share}/litellmctl/auth/ (mode 0600).\n"
                        "set -euo pipefail\n");
  for (gsize i = 0; i < n; i++)
    {
      JsonObject      *record = g_hash_table_lookup (records, providers[i].id);
      g_autofree char *account = NULL;

      if (record == NULL)
        continue;
      account = lctl_credential_get_account (record);
      g_string_append_printf (out, "# %s: %s (%s)\n", providers[i].id, providers[i].label, account);
    }
  g_string_append (out, "LITELLMCTL_CREDENTIALS=(\n");
  for (gsize i = 0; i < n; i++)
    {
      JsonObject      *record = g_hash_table_lookup (records, providers[i].id);
      g_autofree char *json = NULL;
      g_autofree char *b64 = NULL;

      if (record == NULL)
        continue;
      json = lctl_credential_to_string (record, FALSE);
      b64 = g_base64_encode ((const guchar *) json, strlen (json));
      g_string_append_printf (out, "  '%s:%s'\n", providers[i].id, b64);
      explicit_bzero (json, strlen (json));
      explicit_bzero (b64, strlen (b64));
    }
  g_string_append (out, ")\n");
  g_string_append (out, script_tail);
  return g_string_free (out, FALSE);
}

static gboolean
add_payload (GHashTable *out,
             const char *name,
             const char *b64,
             GError    **error)
{
  const LctlOAuthProvider *provider = NULL;
  g_autofree char         *key = g_strdup (name);
  g_autofree guchar       *raw = NULL;
  g_autofree char         *json = NULL;
  g_autoptr (GError) local = NULL;
  JsonObject *record;
  gsize       len = 0;

  /* `auth.qwen_portal.json` (the seed's file names) or `qwen_portal`. */
  if (g_str_has_suffix (key, ".json"))
    key[strlen (key) - 5] = '\0';
  provider = lctl_oauth_provider_lookup (g_str_has_prefix (key, "auth.") ? key + 5 : key);
  if (provider == NULL)
    {
      g_message ("Skipping a credential for an unknown provider: %s", name);
      return TRUE;
    }
  raw = g_base64_decode (b64, &len);
  json = g_strndup ((const char *) raw, len);
  if (raw != NULL)
    explicit_bzero (raw, len);
  record = lctl_credential_from_string (json, &local);
  explicit_bzero (json, len);
  if (record == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "Invalid base64/JSON for %s: %s",
                   name, local->message);
      return FALSE;
    }
  lctl_credential_normalize (record);
  g_hash_table_replace (out, (gpointer) provider->id, record);
  return TRUE;
}

static gboolean
parse_bundle (GHashTable *out,
              const char *b64,
              GError    **error)
{
  g_autofree guchar *raw = NULL;
  g_autofree char   *json = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode   *root;
  JsonObject *bundle;
  g_autoptr (GList) members = NULL;
  gsize len = 0;

  raw = g_base64_decode (b64, &len);
  json = g_strndup ((const char *) raw, len);
  if (!json_parser_load_from_data (parser, json, -1, NULL) || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                           "The credential bundle is not base64 of a JSON object");
      return FALSE;
    }
  bundle = json_node_get_object (root);
  members = json_object_get_members (bundle);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode        *node = json_object_get_member (bundle, l->data);
      g_autofree char *text = NULL;
      g_autofree char *b64_record = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      text = lctl_credential_to_string (json_node_get_object (node), FALSE);
      b64_record = g_base64_encode ((const guchar *) text, strlen (text));
      if (!add_payload (out, l->data, b64_record, error))
        return FALSE;
    }
  return TRUE;
}

/**
 * lctl_credential_transfer_parse:
 * @text: Our export script (or just its `provider:base64` words), the seed's
 *   script (`printf '%s' '<b64>' | base64 -d > "$D/auth.<p>.json"`), the
 *   seed's `auth.<p>.json <b64>` lines, or the later JSON-bundle script.
 *
 * Returns: (transfer full) (element-type utf8 JsonObject): Provider key →
 *   record; empty when nothing was recognised.
 */
GHashTable *
lctl_credential_transfer_parse (const char *text,
                                GError    **error)
{
  g_autoptr (GHashTable) out = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                      (GDestroyNotify) json_object_unref);
  g_autoptr (GRegex) ours = g_regex_new ("(?:^|[^A-Za-z0-9_.])(chatgpt|gemini_cli|qwen_portal|kimi_code):"
                                         "([A-Za-z0-9+/]+={0,2})",
                                         G_REGEX_MULTILINE, 0, NULL);
  g_autoptr (GRegex) seed = g_regex_new ("printf\\s+'%s'\\s+'([A-Za-z0-9+/=]+)'\\s*\\|\\s*base64\\s+-d\\s*>\\s*"
                                         "\"\\$D/(auth\\.[^\"]+)\"",
                                         0, 0, NULL);
  g_autoptr (GRegex) simple = g_regex_new ("^\\s*(auth\\.[A-Za-z0-9_.-]+\\.json)\\s+([A-Za-z0-9+/=]+)\\s*$",
                                           G_REGEX_MULTILINE, 0, NULL);
  g_autoptr (GRegex) bundle = g_regex_new ("<<\\s*'?BUNDLE_EOF'?[^\\n]*\\n([A-Za-z0-9+/=\\s]+?)\\n\\s*BUNDLE_EOF",
                                           0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;

  if (g_regex_match (bundle, text, 0, &match))
    {
      g_autofree char *b64 = g_match_info_fetch (match, 1);
      g_autoptr (GString) clean = g_string_new (NULL);

      for (const char *p = b64; *p != '\0'; p++)
        if (!g_ascii_isspace (*p))
          g_string_append_c (clean, *p);
      if (!parse_bundle (out, clean->str, error))
        return NULL;
    }
  g_clear_pointer (&match, g_match_info_free);

  g_regex_match (seed, text, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *b64 = g_match_info_fetch (match, 1);
      g_autofree char *name = g_match_info_fetch (match, 2);

      if (!add_payload (out, name, b64, error))
        return NULL;
      g_match_info_next (match, NULL);
    }
  g_clear_pointer (&match, g_match_info_free);

  g_regex_match (simple, text, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *name = g_match_info_fetch (match, 1);
      g_autofree char *b64 = g_match_info_fetch (match, 2);

      if (!add_payload (out, name, b64, error))
        return NULL;
      g_match_info_next (match, NULL);
    }
  g_clear_pointer (&match, g_match_info_free);

  g_regex_match (ours, text, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *name = g_match_info_fetch (match, 1);
      g_autofree char *b64 = g_match_info_fetch (match, 2);

      if (!add_payload (out, name, b64, error))
        return NULL;
      g_match_info_next (match, NULL);
    }
  return g_steal_pointer (&out);
}
