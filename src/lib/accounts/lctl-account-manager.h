/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "lctl-token-source.h"
#include "lctl-token-store.h"

G_BEGIN_DECLS

#define LCTL_TYPE_ACCOUNT_MANAGER (lctl_account_manager_get_type ())
G_DECLARE_FINAL_TYPE (LctlAccountManager, lctl_account_manager, LCTL, ACCOUNT_MANAGER, GObject)

LctlAccountManager *lctl_account_manager_new (void);

void         lctl_account_manager_set_store_preference (LctlAccountManager      *self,
                                                        LctlTokenStorePreference preference);
void         lctl_account_manager_set_store (LctlAccountManager *self,
                                             LctlTokenStore     *store);
void         lctl_account_manager_set_proactive_refresh (LctlAccountManager *self,
                                                         gboolean            enabled);
void         lctl_account_manager_set_retry_delay (LctlAccountManager *self,
                                                   unsigned            milliseconds);
SoupSession *lctl_account_manager_get_session (LctlAccountManager *self);

void     lctl_account_manager_load_async (LctlAccountManager *self,
                                          GCancellable       *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer            user_data);
gboolean lctl_account_manager_load_finish (LctlAccountManager *self,
                                           GAsyncResult       *result,
                                           GError            **error);

GVariant   *lctl_account_manager_list_accounts (LctlAccountManager *self);
char      **lctl_account_manager_get_needs_login (LctlAccountManager *self);
JsonObject *lctl_account_manager_get_record (LctlAccountManager *self,
                                             const char         *provider);
const char *lctl_account_manager_get_backend (LctlAccountManager *self,
                                              const char         *provider);

void     lctl_account_manager_add_async (LctlAccountManager *self,
                                         const char         *provider,
                                         JsonObject         *record,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
gboolean lctl_account_manager_add_finish (LctlAccountManager *self,
                                          GAsyncResult       *result,
                                          GError            **error);

void       lctl_account_manager_refresh_async (LctlAccountManager *self,
                                               const char         *provider,
                                               GCancellable       *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer            user_data);
LctlToken *lctl_account_manager_refresh_finish (LctlAccountManager *self,
                                                GAsyncResult       *result,
                                                GError            **error);

void     lctl_account_manager_logout_async (LctlAccountManager *self,
                                            const char         *provider,
                                            GCancellable       *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer            user_data);
gboolean lctl_account_manager_logout_finish (LctlAccountManager *self,
                                             GAsyncResult       *result,
                                             GError            **error);

G_END_DECLS
