/*
 * pam_check: a small PAM application that tests pam_iam_db_auth.so the way servers host it.
 *
 * Usage: pam_check SERVICE USER MODE < password
 *   MODE plain   : default SIGCHLD handling
 *        ignore  : SIGCHLD set to SIG_IGN first (children vanish; waitpid gives ECHILD)
 *        reaper  : a SIGCHLD handler that reaps every child with waitpid(-1), as some servers do
 * The password is stdin, byte for byte (up to 128 KB). Before authenticating it opens fds 5-8
 * without close-on-exec, to show they do not reach the verifier. Prints one line:
 *   result=<pam_strerror> ms=<elapsed> children_left=<yes|no> reaped_by_handler=<n>
 *   sigchld_kept=<yes|no>
 * and exits 0 iff PAM said PAM_SUCCESS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char password[128 * 1024 + 1];
static volatile sig_atomic_t reaped;

static void reap_all(int sig) {
  int saved = errno;
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) reaped++;
  errno = saved;
}

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
                        void *data) {
  struct pam_response *r = calloc((size_t)n, sizeof *r);
  (void)data;
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++)
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
      r[i].resp = strdup(password);
  *resp = r;
  return PAM_SUCCESS;
}

int main(int argc, char **argv) {
  struct pam_conv conv = {conversation, NULL};
  struct sigaction sa, after;
  struct timespec t0, t1;
  pam_handle_t *pamh = NULL;
  size_t len = 0;
  ssize_t n;
  int rc;

  if (argc != 4) {
    fprintf(stderr, "usage: pam_check SERVICE USER plain|ignore|reaper < password\n");
    return 2;
  }
  while (len < sizeof password - 1 && (n = read(0, password + len, sizeof password - 1 - len)) > 0)
    len += (size_t)n;
  password[len] = '\0';

  memset(&sa, 0, sizeof sa);
  if (strcmp(argv[3], "ignore") == 0) {
    sa.sa_handler = SIG_IGN;
  } else if (strcmp(argv[3], "reaper") == 0) {
    sa.sa_handler = reap_all;
    sa.sa_flags = SA_RESTART;
  } else {
    sa.sa_handler = SIG_DFL;
  }
  sigaction(SIGCHLD, &sa, NULL);
  for (int fd = 5; fd <= 8; fd++) dup2(open("/dev/null", O_RDONLY), fd);

  clock_gettime(CLOCK_MONOTONIC, &t0);
  rc = pam_start(argv[1], argv[2], &conv, &pamh);
  if (rc == PAM_SUCCESS) rc = pam_authenticate(pamh, 0);
  if (rc == PAM_SUCCESS) rc = pam_acct_mgmt(pamh, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);

  int left = !(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
  sigaction(SIGCHLD, NULL, &after);
  printf("result=%s ms=%ld children_left=%s reaped_by_handler=%d sigchld_kept=%s\n",
         pam_strerror(pamh, rc),
         (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
         left ? "yes" : "no", (int)reaped, after.sa_handler == sa.sa_handler ? "yes" : "no");
  pam_end(pamh, rc);
  return rc == PAM_SUCCESS ? 0 : 1;
}
