/* settings-exoauth.h: the passdb exoauth's Dovecot 2.4 settings
   (exoauth_socket, exoauth_mode, ...), one string per key of the 2.3 args
   line, validated by args.cc like the args words. The same definitions go
   into the auth module (which reads them) and into the settings module
   the config process loads from MODULEDIR/settings (which makes the keys
   known to doveconf). C, because Dovecot's setting macros are C. */
#ifndef EXOAUTH_SETTINGS_H
#define EXOAUTH_SETTINGS_H

struct event;

/* Values as written in dovecot.conf; "" means the key was not set. */
struct exoauth_settings {
	pool_t pool;
	const char *socket;
	const char *timeout;
	const char *max_token;
	const char *cache_ttl;
	const char *mode;
	const char *proxy_host;
	const char *imap_port;
	const char *pop3_port;
	const char *proxy_ssl;
};

/* The settings of the passdb the event belongs to; 0 or -1 with error_r. */
int exoauth_settings_read(struct event *event, const struct exoauth_settings **set_r,
			  const char **error_r);
void exoauth_settings_release(const struct exoauth_settings **set);

#endif
