/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-account-manager.h"
#include "lctl-dbus-generated.h"
#include "lctl-token-source.h"

G_BEGIN_DECLS

#define LCTL_TYPE_ACCOUNTS_SERVICE (lctl_accounts_service_get_type ())
G_DECLARE_FINAL_TYPE (LctlAccountsService, lctl_accounts_service, LCTL, ACCOUNTS_SERVICE, LctlDBusAccountsSkeleton)

LctlAccountsService *lctl_accounts_service_new (void);
LctlAccountsService *lctl_accounts_service_new_with_manager (LctlAccountManager *manager);
LctlTokenSource     *lctl_accounts_service_get_token_source (LctlAccountsService *self);
LctlAccountManager  *lctl_accounts_service_get_manager (LctlAccountsService *self);

G_END_DECLS
