/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <libsecret/secret.h>

#include "lctl-token-store.h"

G_BEGIN_DECLS

#define LCTL_TYPE_SECRET_TOKEN_STORE (lctl_secret_token_store_get_type ())
G_DECLARE_FINAL_TYPE (LctlSecretTokenStore, lctl_secret_token_store, LCTL, SECRET_TOKEN_STORE, LctlTokenStore)

const SecretSchema   *lctl_secret_token_store_get_schema (void);
LctlSecretTokenStore *lctl_secret_token_store_new (void);

G_END_DECLS
