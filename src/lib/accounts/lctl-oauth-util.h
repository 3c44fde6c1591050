/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Shared machinery of the OAuth flows and refreshes (PROTOCOLS.md §1.1). */

char       *lctl_oauth_random_urlsafe (gsize n_bytes);
char       *lctl_oauth_pkce_challenge (const char *verifier);
JsonObject *lctl_oauth_jwt_decode (const char *jwt);
gboolean    lctl_oauth_is_headless (void);

char *lctl_oauth_url (const char *env_var,
                      const char *default_base,
                      const char *path);
char *lctl_oauth_code_assist_url (const char *method);

char *lctl_oauth_form_encode (const char *first_key,
                              ...) G_GNUC_NULL_TERMINATED;

/**
 * LctlOAuthReply:
 * @status: The HTTP status.
 * @body: The parsed JSON body, or %NULL when it was not JSON.
 *
 * An answer of an OAuth or account endpoint. Its body holds secrets: never
 * log it.
 */
typedef struct
{
  unsigned  status;
  JsonNode *body;
} LctlOAuthReply;

void lctl_oauth_reply_free (LctlOAuthReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlOAuthReply, lctl_oauth_reply_free)

JsonObject *lctl_oauth_reply_get_object (LctlOAuthReply *reply);
const char *lctl_oauth_reply_get_string (LctlOAuthReply *reply,
                                         const char     *member);
char       *lctl_oauth_reply_describe (LctlOAuthReply *reply);

void            lctl_oauth_http_async (SoupSession        *session,
                                       const char         *method,
                                       const char         *url,
                                       const char *const  *headers,
                                       const char         *content_type,
                                       const char         *body,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
LctlOAuthReply *lctl_oauth_http_finish (GAsyncResult *result,
                                        GError      **error);

char  *lctl_oauth_kimi_device_id (void);
char **lctl_oauth_kimi_headers (void);

void     lctl_oauth_gemini_client_async (GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
gboolean lctl_oauth_gemini_client_finish (GAsyncResult *result,
                                          char        **client_id,
                                          char        **client_secret,
                                          GError      **error);

gint64      lctl_credential_get_expires_at (JsonObject *record);
const char *lctl_credential_get_string (JsonObject *record,
                                        const char *member);
char       *lctl_credential_get_account (JsonObject *record);
JsonObject *lctl_credential_copy (JsonObject *record);
char       *lctl_credential_to_string (JsonObject *record,
                                       gboolean    pretty);
JsonObject *lctl_credential_from_string (const char *json,
                                         GError    **error);
void        lctl_credential_normalize (JsonObject *record);
gboolean    lctl_credential_apply_token_reply (const char *provider,
                                               JsonObject *record,
                                               JsonObject *reply);
char       *lctl_oauth_token_url (const char *provider);

G_END_DECLS
