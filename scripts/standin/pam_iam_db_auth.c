/*
 * pam_iam_db_auth: the PAM module behind the local RDS stand-ins. It hands the whole password
 * (an IAM token) to the project's verifier and accepts the login iff the verifier exits 0.
 *
 * Service file line (arguments are split on white space by PAM):
 *
 *   auth required /abs/pam_iam_db_auth.so [timeout=SECONDS] /abs/iam-db-auth verify --exact
 *        --keystore F --endpoint HOST:PORT [--endpoint ...] --region R [--kind K]
 *
 * Everything from the first argument that starts with '/' on is the verifier's command line; the
 * module appends `--user=<PAM_USER>` (one argv element, so a user name cannot become an option).
 * The password goes to the verifier's stdin, never to argv (argv is visible in ps) and is never
 * logged. Why not pam_exec: it cuts the password at 511 bytes, and tokens made from temporary
 * credentials are 800-1500 bytes (up to 16 KB accepted by the verifier).
 *
 * The verifier's stdout is /dev/null (MariaDB's auth_pam_tool talks to the server over its own
 * stdout); its stderr is the server's, so the reason for a rejection lands in the server log.
 * The verifier is killed after `timeout` seconds (default 10) and always reaped: no zombie.
 * Only pam_sm_authenticate and pam_sm_setcred are provided; use pam_permit for `account`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

/* The verifier refuses anything longer than 16 KB itself; this only bounds what we buffer in a
 * socket (which holds far more than this, so the write below never blocks). */
#define MAX_PASSWORD_LEN (64 * 1024)
#define DEFAULT_TIMEOUT_MS 10000

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child side, between fork and exec: only async-signal-safe calls (the host may be threaded). */
static void exec_verifier(char **argv, int in_fd, int null_fd, int exit_fd, int max_fd) {
  static char *const envp[] = {"PATH=/usr/bin:/bin", NULL}; /* nothing of the server's env */
  struct sigaction dfl;
  sigset_t none;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* host's SIG_IGN is inherited */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Move the three fds above the targets first, so dup2 never meets its own source. */
  in_fd = fcntl(in_fd, F_DUPFD, 10);
  null_fd = fcntl(null_fd, F_DUPFD, 10);
  exit_fd = fcntl(exit_fd, F_DUPFD, 10);
  if (in_fd < 0 || null_fd < 0 || exit_fd < 0 || dup2(in_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
      dup2(exit_fd, 3) < 0)
    _exit(127);
  /* fd 3 stays open in the verifier until it exits: its closing wakes the parent's poll. */
  if (close_range(4, ~0U, 0) != 0)
    for (int fd = 4; fd < max_fd; fd++) close(fd);
  execve(argv[0], argv, envp);
  _exit(127);
}

/* Runs the verifier with `password` on stdin. Returns PAM_SUCCESS iff it exited 0. */
static int run_verifier(pam_handle_t *pamh, char **argv, const char *password, int timeout_ms) {
  int sock[2] = {-1, -1}, exit_pipe[2] = {-1, -1}, null_fd = -1, result = PAM_SYSTEM_ERR;
  int status = 0;
  long max_fd = sysconf(_SC_OPEN_MAX);
  struct sigaction dfl, old_chld;
  pid_t pid;
  size_t len = strlen(password), sent = 0;

  if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
  /* A socket, not a pipe, for stdin: send(MSG_NOSIGNAL) cannot raise SIGPIPE in the server if
   * the verifier dies before reading. */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) != 0 ||
      pipe2(exit_pipe, O_CLOEXEC) != 0 || (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
    pam_syslog(pamh, LOG_ERR, "cannot set up the verifier's stdin: %m");
    goto out;
  }
  /* The server may ignore SIGCHLD (children then vanish and waitpid fails with ECHILD) or reap
   * children in a handler; hold the default disposition while our child lives, as pam_unix does. */
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, &old_chld);
  pid = fork();
  if (pid < 0) {
    pam_syslog(pamh, LOG_ERR, "fork: %m");
    sigaction(SIGCHLD, &old_chld, NULL);
    goto out;
  }
  if (pid == 0) exec_verifier(argv, sock[1], null_fd, exit_pipe[1], (int)max_fd);
  close(sock[1]);
  close(exit_pipe[1]);
  sock[1] = exit_pipe[1] = -1;

  while (sent < len) {
    ssize_t n = send(sock[0], password + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* the verifier is gone or stuck: it will not exit 0 with half a token */
    sent += (size_t)n;
  }
  shutdown(sock[0], SHUT_WR); /* end of input: the token is complete */

  long long deadline = now_ms() + timeout_ms;
  for (;;) {
    struct pollfd p = {.fd = exit_pipe[0], .events = POLLIN};
    long long left = deadline - now_ms();
    int r = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (r > 0) break; /* POLLHUP: the verifier has exited (or is exiting) */
    if (r < 0 && errno == EINTR) continue;
    pam_syslog(pamh, LOG_ERR, "verifier did not finish within %d ms; killed", timeout_ms);
    kill(pid, SIGKILL);
    break;
  }
  pid_t w;
  do w = waitpid(pid, &status, 0);
  while (w < 0 && errno == EINTR);
  sigaction(SIGCHLD, &old_chld, NULL);
  if (w != pid) {
    pam_syslog(pamh, LOG_ERR, "waitpid: %m (the verifier's status was lost)");
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sent == len) {
    result = PAM_SUCCESS;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
    result = PAM_AUTH_ERR; /* rejected; the reason is on the server's stderr */
  } else {
    pam_syslog(pamh, LOG_ERR, "verifier failed (status 0x%x)", (unsigned)status);
  }
out:
  for (int i = 0; i < 2; i++) {
    if (sock[i] >= 0) close(sock[i]);
    if (exit_pipe[i] >= 0) close(exit_pipe[i]);
  }
  if (null_fd >= 0) close(null_fd);
  return result;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  const char *user = NULL, *password = NULL;
  int timeout_ms = DEFAULT_TIMEOUT_MS, first = 0, rc;
  (void)flags;

  for (; first < argc && argv[first][0] != '/'; first++) {
    char *end;
    long seconds;
    if (strncmp(argv[first], "timeout=", 8) != 0) {
      pam_syslog(pamh, LOG_ERR, "unknown option '%s'", argv[first]);
      return PAM_SERVICE_ERR;
    }
    seconds = strtol(argv[first] + 8, &end, 10);
    if (*end != '\0' || seconds < 1 || seconds > 600) {
      pam_syslog(pamh, LOG_ERR, "timeout must be 1 to 600 seconds");
      return PAM_SERVICE_ERR;
    }
    timeout_ms = (int)seconds * 1000;
  }
  if (first == argc) {
    pam_syslog(pamh, LOG_ERR, "no verifier command (an absolute path) in the service file");
    return PAM_SERVICE_ERR;
  }
  if ((rc = pam_get_user(pamh, &user, NULL)) != PAM_SUCCESS || user == NULL || user[0] == '\0')
    return rc == PAM_SUCCESS ? PAM_USER_UNKNOWN : rc;
  if ((rc = pam_get_authtok(pamh, PAM_AUTHTOK, &password, NULL)) != PAM_SUCCESS) return rc;
  if (password == NULL || password[0] == '\0' || strlen(password) > MAX_PASSWORD_LEN)
    return PAM_AUTH_ERR;

  int n = argc - first;
  char **args = calloc((size_t)n + 2, sizeof *args);
  size_t user_arg_len = strlen(user) + sizeof "--user=";
  char *user_arg = malloc(user_arg_len);
  if (args == NULL || user_arg == NULL) {
    free(args);
    free(user_arg);
    return PAM_BUF_ERR;
  }
  snprintf(user_arg, user_arg_len, "--user=%s", user);
  for (int i = 0; i < n; i++) args[i] = (char *)argv[first + i];
  args[n] = user_arg;
  args[n + 1] = NULL;
  rc = run_verifier(pamh, args, password, timeout_ms);
  free(user_arg);
  free(args);
  return rc;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)pamh;
  (void)flags;
  (void)argc;
  (void)argv;
  return PAM_SUCCESS;
}
