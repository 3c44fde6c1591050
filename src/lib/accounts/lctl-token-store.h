/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define LCTL_TYPE_TOKEN_STORE (lctl_token_store_get_type ())
G_DECLARE_DERIVABLE_TYPE (LctlTokenStore, lctl_token_store, LCTL, TOKEN_STORE, GObject)

/**
 * LctlTokenStoreClass:
 * @backend_name: "keyring" or "file", as `auth status` shows it.
 * @load_async: Loads the credential record of a provider. Finishes with
 *   %NULL and no error when none is stored.
 * @save_async: Stores a record for (provider, account), replacing one with
 *   the same pair.
 * @delete_async: Deletes the provider's record for @account, or all of the
 *   provider's records when @account is %NULL. Deleting nothing succeeds.
 *
 * Where credential records (JSON objects, PROTOCOLS.md §1) live. Records
 * hold secrets: backends never log them.
 */
struct _LctlTokenStoreClass
{
  GObjectClass parent_class;

  const char *backend_name;

  void (*load_async) (LctlTokenStore     *self,
                      const char         *provider,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data);
  JsonObject *(*load_finish) (LctlTokenStore *self,
                              GAsyncResult   *result,
                              GError        **error);
  void (*save_async) (LctlTokenStore     *self,
                      const char         *provider,
                      const char         *account,
                      JsonObject         *record,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data);
  gboolean (*save_finish) (LctlTokenStore *self,
                           GAsyncResult   *result,
                           GError        **error);
  void (*delete_async) (LctlTokenStore     *self,
                        const char         *provider,
                        const char         *account,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data);
  gboolean (*delete_finish) (LctlTokenStore *self,
                             GAsyncResult   *result,
                             GError        **error);

  gpointer padding[8];
};

const char *lctl_token_store_get_backend_name (LctlTokenStore *self);

void        lctl_token_store_load_async (LctlTokenStore     *self,
                                         const char         *provider,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
JsonObject *lctl_token_store_load_finish (LctlTokenStore *self,
                                          GAsyncResult   *result,
                                          GError        **error);
void        lctl_token_store_save_async (LctlTokenStore     *self,
                                         const char         *provider,
                                         const char         *account,
                                         JsonObject         *record,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
gboolean    lctl_token_store_save_finish (LctlTokenStore *self,
                                          GAsyncResult   *result,
                                          GError        **error);
void        lctl_token_store_delete_async (LctlTokenStore     *self,
                                           const char         *provider,
                                           const char         *account,
                                           GCancellable       *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer            user_data);
gboolean    lctl_token_store_delete_finish (LctlTokenStore *self,
                                            GAsyncResult   *result,
                                            GError        **error);

/**
 * LctlTokenStorePreference:
 * @LCTL_TOKEN_STORE_AUTO: The Secret Service when one answers, else files.
 * @LCTL_TOKEN_STORE_KEYRING: The Secret Service.
 * @LCTL_TOKEN_STORE_FILE: Files in `$XDG_DATA_HOME/litellmctl/auth/`.
 */
typedef enum
{
  LCTL_TOKEN_STORE_AUTO,
  LCTL_TOKEN_STORE_KEYRING,
  LCTL_TOKEN_STORE_FILE,
} LctlTokenStorePreference;

void            lctl_token_store_new_default_async (LctlTokenStorePreference preference,
                                                    GCancellable            *cancellable,
                                                    GAsyncReadyCallback      callback,
                                                    gpointer                 user_data);
LctlTokenStore *lctl_token_store_new_default_finish (GAsyncResult *result,
                                                     GError      **error);

G_END_DECLS
