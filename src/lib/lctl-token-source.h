/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * LctlToken:
 * @provider: `chatgpt`, `gemini_cli`, `qwen_portal` or `kimi_code`.
 * @access_token: The bearer token. Never log it.
 * @expires_at: Unix seconds, 0 if unknown.
 * @account_id: ChatGPT account id (`ChatGPT-Account-Id`), or %NULL.
 * @resource_url: Qwen's `resource_url` (API base host), or %NULL.
 * @project_id: Gemini Code Assist project, or %NULL.
 * @email: The account's e-mail, or %NULL.
 *
 * What a request needs from an OAuth credential. Reference counted; immutable.
 */
typedef struct
{
  char *provider;
  char *access_token;
  gint64 expires_at;
  char *account_id;
  char *resource_url;
  char *project_id;
  char *email;
} LctlToken;

GType lctl_token_get_type (void) G_GNUC_CONST;
LctlToken *lctl_token_new (const char *provider,
                           const char *access_token);
LctlToken *lctl_token_ref (LctlToken *self);
void lctl_token_unref (LctlToken *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlToken, lctl_token_unref)

#define LCTL_TYPE_TOKEN_SOURCE (lctl_token_source_get_type ())
G_DECLARE_INTERFACE (LctlTokenSource, lctl_token_source, LCTL, TOKEN_SOURCE, GObject)

/**
 * LctlTokenSourceInterface:
 * @get_token_async: Gets a usable token for @provider, refreshing it first
 *   when it is expired or about to expire. When @rejected is non-%NULL, the
 *   upstream answered 401 to that token: return a newer one (refreshing once
 *   if nobody else already has). Concurrent callers share one refresh.
 * @get_token_finish: Finishes it. Fails with %LCTL_ERROR_NEEDS_LOGIN when
 *   the account has no usable credential, %LCTL_ERROR_NOT_FOUND when there is
 *   no account for @provider.
 *
 * Where the request path gets bearer tokens for OAuth providers.
 */
struct _LctlTokenSourceInterface
{
  GTypeInterface parent_iface;

  void (*get_token_async) (LctlTokenSource *self,
                           const char *provider,
                           LctlToken *rejected,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  LctlToken *(*get_token_finish) (LctlTokenSource *self,
                                  GAsyncResult *result,
                                  GError **error);
};

void lctl_token_source_get_token_async (LctlTokenSource *self,
                                        const char *provider,
                                        LctlToken *rejected,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
LctlToken *lctl_token_source_get_token_finish (LctlTokenSource *self,
                                               GAsyncResult *result,
                                               GError **error);

G_END_DECLS
