/* settings-exoauth.c: the definitions behind settings-exoauth.h, and the
   symbols Dovecot 2.4's config process looks for in a settings module
   (NAME_set_infos, NAME_version; lib/module-dir.c strips "lib20_" and ".so"
   from the file name to get NAME). Input is the administrator's config,
   checked again by args.cc when the auth process reads it. */
#include "lib.h"
#include "settings.h"
#include "settings-parser.h"

#include "settings-exoauth.h"

#undef DEF
#define DEF(name) SETTING_DEFINE_STRUCT_STR_NOVARS("exoauth_" #name, name, struct exoauth_settings)

static const struct setting_define exoauth_setting_defines[] = {
	DEF(socket),
	DEF(timeout),
	DEF(max_token),
	DEF(cache_ttl),
	DEF(mode),
	DEF(proxy_host),
	DEF(imap_port),
	DEF(pop3_port),
	DEF(proxy_ssl),
	SETTING_DEFINE_LIST_END
};

/* "" everywhere: args.cc's defaults apply to what is not set. */
static const struct exoauth_settings exoauth_default_settings = {
	.socket = "",
	.timeout = "",
	.max_token = "",
	.cache_ttl = "",
	.mode = "",
	.proxy_host = "",
	.imap_port = "",
	.pop3_port = "",
	.proxy_ssl = "",
};

const struct setting_parser_info exoauth_setting_parser_info = {
	.name = "exoauth",
	.defines = exoauth_setting_defines,
	.defaults = &exoauth_default_settings,
	.struct_size = sizeof(struct exoauth_settings),
	.pool_offset1 = 1 + offsetof(struct exoauth_settings, pool),
};

/* Reads the settings seen through the event (the passdb's block first). */
int exoauth_settings_read(struct event *event, const struct exoauth_settings **set_r,
			  const char **error_r)
{
	return settings_get(event, &exoauth_setting_parser_info, 0, set_r, error_r);
}

/* Gives the settings back to Dovecot's settings cache. */
void exoauth_settings_release(const struct exoauth_settings **set)
{
	settings_free(*set);
}

/* What the config process loads (settings module lib20_exoauth_settings.so). */
extern const struct setting_parser_info *const exoauth_settings_set_infos[];
const struct setting_parser_info *const exoauth_settings_set_infos[] = {
	&exoauth_setting_parser_info,
	NULL
};
extern const char *exoauth_settings_version;
const char *exoauth_settings_version = DOVECOT_ABI_VERSION;
