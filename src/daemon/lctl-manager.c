/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#define G_LOG_DOMAIN "litellmctl-dbus"

#include "config.h"

#include "lctl-application.h"
#include "lctl-manager.h"

struct _LctlManager
{
  LctlDBusManagerSkeleton parent_instance;

  LctlApplication *application; /* (unowned): it owns us */
};

static void lctl_manager_iface_init (LctlDBusManagerIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LctlManager, lctl_manager, LCTL_DBUS_TYPE_MANAGER_SKELETON, G_IMPLEMENT_INTERFACE (LCTL_DBUS_TYPE_MANAGER, lctl_manager_iface_init))

static gboolean
handle_get_status (LctlDBusManager       *manager,
                   GDBusMethodInvocation *invocation)
{
  LctlManager    *self = LCTL_MANAGER (manager);
  LctlServer     *server = lctl_application_get_server (self->application);
  LctlConfig     *config = lctl_server_get_config (server);
  GVariantBuilder builder;
  unsigned        model_count = 0;
  unsigned        deployment_count = 0;

  if (config != NULL)
    {
      model_count = g_strv_length (config->model_names);
      deployment_count = config->deployments->len;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "version", g_variant_new_string (PACKAGE_VERSION));
  g_variant_builder_add (&builder, "{sv}", "address",
                         g_variant_new_string (lctl_server_get_address (server)));
  g_variant_builder_add (&builder, "{sv}", "config-path",
                         g_variant_new_string (lctl_application_get_config_path (self->application)));
  g_variant_builder_add (&builder, "{sv}", "config-error",
                         g_variant_new_string (lctl_application_get_config_error (self->application)));
  g_variant_builder_add (&builder, "{sv}", "model-count", g_variant_new_uint32 (model_count));
  g_variant_builder_add (&builder, "{sv}", "deployment-count", g_variant_new_uint32 (deployment_count));
  g_variant_builder_add (&builder, "{sv}", "requests",
                         g_variant_new_uint64 (lctl_server_get_request_count (server)));
  g_variant_builder_add (&builder, "{sv}", "in-flight",
                         g_variant_new_uint32 (lctl_server_get_in_flight (server)));
  g_variant_builder_add (&builder, "{sv}", "uptime",
                         g_variant_new_uint64 ((g_get_monotonic_time () - lctl_application_get_started_at (self->application)) / G_USEC_PER_SEC));
  g_variant_builder_add (&builder, "{sv}", "pid", g_variant_new_uint32 (getpid ()));
  g_variant_builder_add (&builder, "{sv}", "master-key",
                         g_variant_new_boolean (config != NULL && config->master_key != NULL));

  lctl_dbus_manager_complete_get_status (manager, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_models (LctlDBusManager       *manager,
                    GDBusMethodInvocation *invocation)
{
  LctlManager *self = LCTL_MANAGER (manager);
  LctlConfig  *config = lctl_server_get_config (lctl_application_get_server (self->application));

  if (config == NULL)
    lctl_dbus_manager_complete_list_models (manager, invocation, g_variant_new ("aa{sv}", NULL));
  else
    lctl_dbus_manager_complete_list_models (manager, invocation,
                                            lctl_router_list_states (lctl_application_get_router (self->application), config));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reload (LctlDBusManager       *manager,
               GDBusMethodInvocation *invocation)
{
  LctlManager *self = LCTL_MANAGER (manager);
  g_autoptr (GError) error = NULL;

  if (!lctl_application_reload (self->application, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    lctl_dbus_manager_complete_reload (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reset_cooldowns (LctlDBusManager       *manager,
                        GDBusMethodInvocation *invocation,
                        const char            *model)
{
  LctlManager *self = LCTL_MANAGER (manager);

  lctl_router_reset_cooldowns (lctl_application_get_router (self->application), *model != '\0' ? model : NULL);
  lctl_dbus_manager_complete_reset_cooldowns (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_quit (LctlDBusManager       *manager,
             GDBusMethodInvocation *invocation)
{
  LctlManager *self = LCTL_MANAGER (manager);

  lctl_dbus_manager_complete_quit (manager, invocation);
  lctl_application_quit_gracefully (self->application);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
lctl_manager_iface_init (LctlDBusManagerIface *iface)
{
  iface->handle_get_status = handle_get_status;
  iface->handle_list_models = handle_list_models;
  iface->handle_reload = handle_reload;
  iface->handle_reset_cooldowns = handle_reset_cooldowns;
  iface->handle_quit = handle_quit;
}

static void lctl_manager_dispose (GObject *object);

static void
lctl_manager_class_init (LctlManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = lctl_manager_dispose;
}

static void
lctl_manager_init (LctlManager *self)
{
}

static void
request_finished_cb (LctlProxy *proxy,
                     GVariant  *route,
                     gpointer   user_data)
{
  lctl_dbus_manager_emit_request_finished (LCTL_DBUS_MANAGER (user_data), route);
}

static void
deployment_state_changed_cb (LctlRouter *router,
                             const char *model,
                             const char *deployment,
                             const char *state,
                             gint64      until,
                             gpointer    user_data)
{
  lctl_dbus_manager_emit_deployment_state_changed (LCTL_DBUS_MANAGER (user_data), model, deployment, state, until);
}

static void
lctl_manager_dispose (GObject *object)
{
  LctlManager *self = LCTL_MANAGER (object);

  if (self->application != NULL)
    {
      g_signal_handlers_disconnect_by_data (lctl_application_get_proxy (self->application), self);
      g_signal_handlers_disconnect_by_data (lctl_application_get_router (self->application), self);
      self->application = NULL;
    }

  G_OBJECT_CLASS (lctl_manager_parent_class)->dispose (object);
}

LctlManager *
lctl_manager_new (LctlApplication *application)
{
  LctlManager *self = g_object_new (LCTL_TYPE_MANAGER, NULL);

  self->application = application;
  g_signal_connect_object (lctl_application_get_proxy (application), "request-finished",
                           G_CALLBACK (request_finished_cb), self, 0);
  g_signal_connect_object (lctl_application_get_router (application), "deployment-state-changed",
                           G_CALLBACK (deployment_state_changed_cb), self, 0);
  lctl_dbus_manager_set_version (LCTL_DBUS_MANAGER (self), PACKAGE_VERSION);
  lctl_manager_sync (self);
  return self;
}

/* Brings the D-Bus properties in line with the daemon's state. */
void
lctl_manager_sync (LctlManager *self)
{
  LctlDBusManager *manager = LCTL_DBUS_MANAGER (self);

  lctl_dbus_manager_set_address (manager, lctl_server_get_address (lctl_application_get_server (self->application)));
  lctl_dbus_manager_set_config_path (manager, lctl_application_get_config_path (self->application));
  lctl_dbus_manager_set_config_error (manager, lctl_application_get_config_error (self->application));
}
