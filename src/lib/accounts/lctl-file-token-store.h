/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-token-store.h"

G_BEGIN_DECLS

#define LCTL_TYPE_FILE_TOKEN_STORE (lctl_file_token_store_get_type ())
G_DECLARE_FINAL_TYPE (LctlFileTokenStore, lctl_file_token_store, LCTL, FILE_TOKEN_STORE, LctlTokenStore)

LctlFileTokenStore *lctl_file_token_store_new (const char *directory);
const char         *lctl_file_token_store_get_directory (LctlFileTokenStore *self);
char               *lctl_file_token_store_default_directory (void);

G_END_DECLS
