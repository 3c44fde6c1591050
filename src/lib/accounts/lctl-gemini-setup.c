/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-oauth"

#include "lctl-gemini-setup.h"
#include "lctl-oauth-util.h"

/* What a Gemini credential needs besides tokens (PROTOCOLS.md §1.3): the
 * account's e-mail (userinfo) and a Code Assist project, found through
 * loadCodeAssist, else the Cloud Resource Manager project list, then a
 * best-effort onboardUser and API enablement. Runs after a login, and after
 * a refresh when the record still lacks one of them. Every step is
 * best-effort: a failure leaves the field empty, as the seed does. */

typedef enum
{
  STEP_USERINFO,
  STEP_LOAD_CODE_ASSIST,
  STEP_LIST_PROJECTS,
  STEP_ONBOARD,
  STEP_ENABLE,
  STEP_DONE,
} Step;

typedef struct
{
  SoupSession           *session;
  JsonObject            *record;
  LctlGeminiProgressFunc progress;
  gpointer               progress_data;
  char                  *env_project;
  char                  *project;
  char                  *bearer;
  Step                   step;
} Setup;

static void
setup_free (Setup *setup)
{
  g_object_unref (setup->session);
  json_object_unref (setup->record);
  g_free (setup->env_project);
  g_free (setup->project);
  if (setup->bearer != NULL)
    explicit_bzero (setup->bearer, strlen (setup->bearer));
  g_free (setup->bearer);
  g_free (setup);
}

static void next_step (GTask *task);

static void
progress (Setup      *setup,
          const char *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
progress (Setup      *setup,
          const char *format,
          ...)
{
  g_autofree char *message = NULL;
  va_list          ap;

  if (setup->progress == NULL)
    return;
  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  setup->progress (message, setup->progress_data);
}

/* Returns the reply of a step, or NULL when the task was cancelled (and
 * then returned) or the request failed (then the next step runs). */
static LctlOAuthReply *
step_reply (GTask        *task,
            GAsyncResult *result,
            const char   *what)
{
  Setup *setup = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  LctlOAuthReply *reply = lctl_oauth_http_finish (result, &error);

  if (reply != NULL)
    return reply;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }
  progress (setup, "%s failed: %s", what, error->message);
  next_step (task);
  return NULL;
}

static void
userinfo_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Setup *setup = g_task_get_task_data (task);
  g_autoptr (LctlOAuthReply) reply = step_reply (task, result, "Reading the e-mail");

  if (reply == NULL)
    return;
  if (reply->status == 200 && lctl_oauth_reply_get_string (reply, "email") != NULL)
    json_object_set_string_member (setup->record, "email", lctl_oauth_reply_get_string (reply, "email"));
  else
    progress (setup, "Could not read the account's e-mail (HTTP %u).", reply->status);
  next_step (task);
}

static char *
project_from_load (JsonObject *answer)
{
  JsonNode *node;

  if (answer == NULL)
    return NULL;
  node = json_object_get_member (answer, "cloudaicompanionProject");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node) && lctl_credential_get_string (json_node_get_object (node), "id") != NULL)
    return g_strdup (lctl_credential_get_string (json_node_get_object (node), "id"));
  if (lctl_credential_get_string (answer, "cloudaicompanionProject") != NULL)
    return g_strdup (lctl_credential_get_string (answer, "cloudaicompanionProject"));
  if (lctl_credential_get_string (answer, "projectId") != NULL)
    return g_strdup (lctl_credential_get_string (answer, "projectId"));
  return g_strdup (lctl_credential_get_string (answer, "project_id"));
}

static void
load_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Setup *setup = g_task_get_task_data (task);
  g_autoptr (LctlOAuthReply) reply = step_reply (task, result, "loadCodeAssist");
  g_autofree char *project = NULL;

  if (reply == NULL)
    return;
  if (reply->status == 200)
    project = project_from_load (lctl_oauth_reply_get_object (reply));
  else
    {
      g_autofree char *what = lctl_oauth_reply_describe (reply);

      progress (setup, "loadCodeAssist failed (%s); looking for a project.", what);
    }
  if (project != NULL)
    {
      g_free (setup->project);
      setup->project = g_steal_pointer (&project);
      /* Code Assist knows the project already: nothing to onboard. */
      setup->step = STEP_DONE;
    }
  next_step (task);
}

static void
projects_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  Setup *setup = g_task_get_task_data (task);
  g_autoptr (LctlOAuthReply) reply = step_reply (task, result, "Listing Cloud projects");
  JsonObject *answer;
  JsonArray  *projects;
  const char *chosen = NULL;

  if (reply == NULL)
    return;
  answer = lctl_oauth_reply_get_object (reply);
  if (reply->status != 200 || answer == NULL || !json_object_has_member (answer, "projects") || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (answer, "projects")))
    {
      next_step (task);
      return;
    }
  /* The seed's heuristic: a project named like Gemini (or with "lang" in
   * its id), else the first one. */
  projects = json_object_get_array_member (answer, "projects");
  for (guint i = 0; i < json_array_get_length (projects) && chosen == NULL; i++)
    {
      JsonNode        *node = json_array_get_element (projects, i);
      const char      *name, *id;
      g_autofree char *lower = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      name = lctl_credential_get_string (json_node_get_object (node), "name");
      id = lctl_credential_get_string (json_node_get_object (node), "projectId");
      lower = g_ascii_strdown (name != NULL ? name : "", -1);
      if (id != NULL && (strstr (lower, "gemini") != NULL || strstr (id, "lang") != NULL))
        chosen = id;
    }
  if (chosen == NULL && json_array_get_length (projects) > 0 && JSON_NODE_HOLDS_OBJECT (json_array_get_element (projects, 0)))
    chosen = lctl_credential_get_string (json_array_get_object_element (projects, 0), "projectId");
  if (chosen != NULL)
    {
      g_free (setup->project);
      setup->project = g_strdup (chosen);
    }
  next_step (task);
}

static void
best_effort_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (LctlOAuthReply) reply = step_reply (task, result, "Code Assist setup");

  if (reply == NULL)
    return;
  if (reply->status >= 300)
    g_debug ("Best-effort Code Assist setup step answered HTTP %u", reply->status);
  next_step (task);
}

static char *
onboard_body (const char *project)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonGenerator) generator = json_generator_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "tierId");
  json_builder_add_string_value (builder, "standard-tier");
  json_builder_set_member_name (builder, "cloudaicompanionProject");
  json_builder_add_string_value (builder, project);
  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ideType");
  json_builder_add_string_value (builder, "IDE_UNSPECIFIED");
  json_builder_set_member_name (builder, "platform");
  json_builder_add_string_value (builder, "PLATFORM_UNSPECIFIED");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static void
next_step (GTask *task)
{
  Setup        *setup = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  const char   *headers[] = { "Authorization", setup->bearer, "Content-Type", "application/json", NULL };
  Step          step = setup->step++;

  switch (step)
    {
    case STEP_USERINFO:
      {
        g_autofree char *url = NULL;

        if (lctl_credential_get_string (setup->record, "email") != NULL)
          {
            next_step (task);
            return;
          }
        url = lctl_oauth_url ("LITELLMCTL_GEMINI_AUTH_BASE", "https://www.googleapis.com",
                              "/oauth2/v1/userinfo?alt=json");
        progress (setup, "Reading the account's e-mail...");
        lctl_oauth_http_async (setup->session, "GET", url, headers, NULL, NULL, cancellable, userinfo_cb,
                               g_object_ref (task));
        return;
      }
    case STEP_LOAD_CODE_ASSIST:
      {
        g_autofree char *url = NULL;
        g_autoptr (JsonObject) body = json_object_new ();
        g_autofree char *text = NULL;

        if (lctl_credential_get_string (setup->record, "project_id") != NULL)
          {
            setup->step = STEP_DONE;
            next_step (task);
            return;
          }
        if (setup->env_project != NULL)
          {
            json_object_set_string_member (body, "cloudaicompanionProject", setup->env_project);
            setup->project = g_strdup (setup->env_project);
          }
        url = lctl_oauth_code_assist_url ("loadCodeAssist");
        text = lctl_credential_to_string (body, FALSE);
        progress (setup, "Looking up the Code Assist project...");
        lctl_oauth_http_async (setup->session, "POST", url, headers, "application/json", text, cancellable,
                               load_cb, g_object_ref (task));
        return;
      }
    case STEP_LIST_PROJECTS:
      {
        g_autofree char *url = NULL;

        if (setup->env_project != NULL)
          {
            next_step (task);
            return;
          }
        url = lctl_oauth_url ("LITELLMCTL_GEMINI_AUTH_BASE", "https://cloudresourcemanager.googleapis.com",
                              "/v1/projects");
        lctl_oauth_http_async (setup->session, "GET", url, headers, NULL, NULL, cancellable, projects_cb,
                               g_object_ref (task));
        return;
      }
    case STEP_ONBOARD:
      {
        g_autofree char *url = NULL;
        g_autofree char *body = NULL;

        if (setup->project == NULL)
          {
            setup->step = STEP_DONE;
            next_step (task);
            return;
          }
        url = lctl_oauth_code_assist_url ("onboardUser");
        body = onboard_body (setup->project);
        progress (setup, "Onboarding project %s to Code Assist...", setup->project);
        lctl_oauth_http_async (setup->session, "POST", url, headers, "application/json", body, cancellable,
                               best_effort_cb, g_object_ref (task));
        return;
      }
    case STEP_ENABLE:
      {
        g_autofree char *path = g_strdup_printf ("/v1/projects/%s/services/cloudaicompanion.googleapis.com:enable",
                                                 setup->project);
        g_autofree char *url = lctl_oauth_url ("LITELLMCTL_GEMINI_AUTH_BASE", "https://serviceusage.googleapis.com",
                                               path);

        lctl_oauth_http_async (setup->session, "POST", url, headers, "application/json", "{}", cancellable,
                               best_effort_cb, g_object_ref (task));
        return;
      }
    case STEP_DONE:
    default:
      if (setup->project != NULL)
        json_object_set_string_member (setup->record, "project_id", setup->project);
      else if (lctl_credential_get_string (setup->record, "project_id") == NULL)
        json_object_set_null_member (setup->record, "project_id");
      g_task_return_boolean (task, TRUE);
      return;
    }
}

/**
 * lctl_gemini_setup_needed:
 *
 * Returns: Whether @record lacks the e-mail or the Code Assist project.
 */
gboolean
lctl_gemini_setup_needed (JsonObject *record)
{
  return lctl_credential_get_string (record, "email") == NULL || lctl_credential_get_string (record, "project_id") == NULL;
}

/**
 * lctl_gemini_setup_async:
 * @session: The session.
 * @record: A Gemini credential record with a fresh access token; the
 *   e-mail and project are filled in place.
 * @progress: (nullable): Called with messages for people.
 *
 * Fills in what @record lacks of `email` and `project_id`. Only
 * cancellation is an error.
 */
void
lctl_gemini_setup_async (SoupSession           *session,
                         JsonObject            *record,
                         LctlGeminiProgressFunc progress_func,
                         gpointer               progress_data,
                         GCancellable          *cancellable,
                         GAsyncReadyCallback    callback,
                         gpointer               user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Setup      *setup = g_new0 (Setup, 1);
  const char *env_project = g_getenv ("GOOGLE_CLOUD_PROJECT");

  if (env_project == NULL || *env_project == '\0')
    env_project = g_getenv ("GOOGLE_CLOUD_PROJECT_ID");
  g_task_set_source_tag (task, lctl_gemini_setup_async);
  setup->session = g_object_ref (session);
  setup->record = json_object_ref (record);
  setup->progress = progress_func;
  setup->progress_data = progress_data;
  setup->env_project = env_project != NULL && *env_project != '\0' ? g_strdup (env_project) : NULL;
  setup->bearer = g_strconcat ("Bearer ", lctl_credential_get_string (record, "access_token"), NULL);
  g_task_set_task_data (task, setup, (GDestroyNotify) setup_free);
  next_step (task);
}

gboolean
lctl_gemini_setup_finish (GAsyncResult *result,
                          GError      **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
