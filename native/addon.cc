// The Node-API face of native/: argument checks and conversions only; the work is in the C files.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>
#include <fcntl.h>
#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fork_parent.h"
#include "handover.h"
#include "pidfile.h"
#include "privileges.h"
#include "safe_open.h"
#include "sd_notify.h"
#include "syslog_relay.h"

namespace {

// Throws an Error shaped like Node's own system errors (errno, syscall); the loader adds `code`.
Napi::Error SystemError(Napi::Env env, int err, const char *syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

int32_t IntArg(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

// A JavaScript array of fds as a vector.
std::vector<int> FdList(Napi::Array arr) {
  std::vector<int> fds;
  for (uint32_t i = 0; i < arr.Length(); i++)
    fds.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  return fds;
}

std::string StringArg(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// What fork_parent announces while it waits, passed on to the caller's onEvent. A JavaScript
// exception must not unwind through the C frames: it is kept and thrown once fork_parent returns.
struct EventSink {
  Napi::Env env;
  Napi::Function fn;
  Napi::Value error;
};

void OnEvent(void *ctx, fork_parent_event event) {
  auto *sink = static_cast<EventSink *>(ctx);
  if (!sink->error.IsEmpty()) return;
  const char *name = event == FORK_PARENT_TIMED_OUT          ? "timeout"
                     : event == FORK_PARENT_KILL_AFTER_GRACE ? "kill-after-grace"
                                                             : "kill-on-cancel";
  try {
    sink->fn.Call({Napi::String::New(sink->env, name)});
  } catch (const Napi::Error &e) { sink->error = e.Value(); }
}

// The outcome as src/daemon/native.ts's ForkParentOutcome: a wait status becomes an exit code or
// a signal, an errno its number and libc's text.
Napi::Object Outcome(Napi::Env env, const fork_parent_result &res) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", res.pid);
  switch (res.end) {
    case FORK_PARENT_READY:
      out.Set("end", "ready");
      break;
    case FORK_PARENT_SETUP_FAILED:
      out.Set("end", "failed");
      out.Set("step", res.step == FORK_PARENT_STEP_EXEC ? "exec" : "stdio");
      out.Set("errno", res.error);
      out.Set("strerror", std::strerror(res.error));
      break;
    case FORK_PARENT_DIED:
      if (WIFSIGNALED(res.status)) {
        out.Set("end", "killed");
        out.Set("signal", WTERMSIG(res.status));
        out.Set("coreDumped", Napi::Boolean::New(env, WCOREDUMP(res.status)));
      } else {
        out.Set("end", "exited");
        out.Set("code", WEXITSTATUS(res.status));
      }
      break;
    case FORK_PARENT_TIMEOUT:
      out.Set("end", "timeout");
      break;
    case FORK_PARENT_CANCELLED:
      out.Set("end", "cancelled");
      out.Set("signal", res.signal);
      break;
  }
  return out;
}

// forkParent(readyTimeoutMs, stopGraceMs, failureExit, onEvent) -> the outcome, in the parent.
Napi::Value ForkParent(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsFunction())
    throw Napi::TypeError::New(env, "onEvent must be a function");
  EventSink sink{env, info[3].As<Napi::Function>(), Napi::Value()};
  fork_parent_options opts{};
  opts.ready_timeout_ms = IntArg(info, 0, "readyTimeoutMs");
  opts.stop_grace_ms = IntArg(info, 1, "stopGraceMs");
  opts.failure_exit = IntArg(info, 2, "failureExit");
  opts.on_event = OnEvent;
  opts.ctx = &sink;
  // A restart (optional 5th argument): { execPath, dropArg, listenFds, extraFds, env }.
  std::string exec_path, extra_env;
  std::vector<int> listen_fds;
  if (info.Length() > 4 && info[4].IsObject()) {
    Napi::Object r = info[4].As<Napi::Object>();
    exec_path = r.Get("execPath").As<Napi::String>().Utf8Value();
    extra_env = r.Get("env").As<Napi::String>().Utf8Value();
    opts.drop_arg = r.Get("dropArg").As<Napi::Number>().Int32Value();
    listen_fds = FdList(r.Get("listenFds").As<Napi::Array>());
    opts.exec_path = exec_path.c_str();
    opts.extra_env = extra_env.c_str();
    std::vector<int> extra = FdList(r.Get("extraFds").As<Napi::Array>());
    listen_fds.insert(listen_fds.end(), extra.begin(), extra.end());
    opts.listen_fds = listen_fds.data();
    opts.n_listen_fds = static_cast<int>(listen_fds.size());
    opts.n_extra_fds = static_cast<int>(extra.size());
  }
  fork_parent_result res{};
  if (fork_parent(&opts, &res) < 0) throw SystemError(env, errno, res.failed_call);
  if (!sink.error.IsEmpty()) throw Napi::Error(env, sink.error);
  return Outcome(env, res);
}

Napi::Array FdArray(Napi::Env env, const int *fds, int n) {
  Napi::Array out = Napi::Array::New(env, static_cast<size_t>(n));
  for (int i = 0; i < n; i++) out.Set(static_cast<uint32_t>(i), fds[i]);
  return out;
}

// handoverListen(daemonPid) -> fd: the restart command's end, before it asks the daemon.
Napi::Value HandoverListen(const Napi::CallbackInfo &info) {
  int fd = handover_listen(IntArg(info, 0, "pid"));
  if (fd < 0) throw SystemError(info.Env(), errno, "hand-over socket");
  return Napi::Number::New(info.Env(), fd);
}

// handoverAccept(listenFd, daemonPid, timeoutMs) -> { conn, answer, fds }.
Napi::Value HandoverAccept(const Napi::CallbackInfo &info) {
  int conn, n, fds[HANDOVER_MAX_FDS];
  char answer = 0;
  if (handover_accept(IntArg(info, 0, "fd"), IntArg(info, 1, "pid"), IntArg(info, 2, "timeoutMs"),
                      &conn, &answer, fds, &n) < 0)
    throw SystemError(info.Env(), errno, "hand-over");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("conn", conn);
  out.Set("answer", std::string(1, answer));
  out.Set("fds", FdArray(info.Env(), fds, n));
  return out;
}

// handoverGive(answer, fds) -> the connection's fd: the daemon's end.
Napi::Value HandoverGive(const Napi::CallbackInfo &info) {
  std::string answer = StringArg(info, 0, "answer");
  if (info.Length() < 2 || !info[1].IsArray())
    throw Napi::TypeError::New(info.Env(), "fds must be an array");
  std::vector<int> fds = FdList(info[1].As<Napi::Array>());
  int conn = handover_give(answer.empty() ? HANDOVER_BUSY : answer[0], fds.data(),
                           static_cast<int>(fds.size()));
  if (conn < 0) throw SystemError(info.Env(), errno, "hand-over");
  return Napi::Number::New(info.Env(), conn);
}

Napi::Value ListeningFds(const Napi::CallbackInfo &info) {
  int fds[HANDOVER_MAX_FDS];
  int n = handover_listening_fds(fds, HANDOVER_MAX_FDS);
  if (n < 0) throw SystemError(info.Env(), errno, "list sockets");
  return FdArray(info.Env(), fds, n);
}

Napi::Value PidfilePrepareSuccessor(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "path");
  int fd = pidfile_prepare_successor(path.c_str(), IntArg(info, 1, "pid"));
  if (fd < 0) throw SystemError(info.Env(), errno, "prepare pid file");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value PidfileTakeOver(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 1, "path");
  if (pidfile_take_over(IntArg(info, 0, "fd"), path.c_str()) < 0)
    throw SystemError(info.Env(), errno, "rename pid file");
  return info.Env().Undefined();
}

Napi::Value ClaimReadyChannel(const Napi::CallbackInfo &info) {
  if (fork_parent_claim(IntArg(info, 0, "fd")) < 0)
    throw SystemError(info.Env(), errno, "claim ready channel");
  return info.Env().Undefined();
}

Napi::Value SignalReady(const Napi::CallbackInfo &info) {
  if (fork_parent_ready(IntArg(info, 0, "fd")) < 0)
    throw SystemError(info.Env(), errno, "write ready channel");
  return info.Env().Undefined();
}

Napi::Value PidfileAcquire(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "path");
  pid_t holder = 0;
  int fd = pidfile_acquire(path.c_str(), IntArg(info, 1, "pid"), &holder);
  if (fd < 0) {
    Napi::Error e = SystemError(info.Env(), errno, "open pid file");
    e.Set("holder", Napi::Number::New(info.Env(), holder));
    throw e;
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value PidfileProbe(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "path");
  pid_t pid = 0, holder = 0;
  int locked = pidfile_probe(path.c_str(), &pid, &holder);
  if (locked < 0) throw SystemError(info.Env(), errno, "open pid file");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("locked", Napi::Boolean::New(info.Env(), locked == 1));
  out.Set("pid", Napi::Number::New(info.Env(), pid));
  out.Set("holder", Napi::Number::New(info.Env(), holder));
  return out;
}

Napi::Value PidfileRemoveStale(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "path");
  int rc = pidfile_remove_stale(path.c_str(), IntArg(info, 1, "pid"));
  if (rc < 0) throw SystemError(info.Env(), errno, "remove pid file");
  return Napi::Boolean::New(info.Env(), rc == 1);
}

Napi::Value PidfileRelease(const Napi::CallbackInfo &info) {
  int fd = IntArg(info, 0, "fd");
  std::string path = StringArg(info, 1, "path");
  if (pidfile_release(fd, path.c_str()) < 0)
    throw SystemError(info.Env(), errno, "unlink pid file");
  return info.Env().Undefined();
}

// openLog(path, uid, gid) -> fd; uid -1: keep the owner (see safe_open_log).
Napi::Value OpenLog(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "path");
  int fd = safe_open_log(path.c_str(), static_cast<uid_t>(IntArg(info, 1, "uid")),
                         static_cast<gid_t>(IntArg(info, 2, "gid")));
  if (fd < 0) throw SystemError(info.Env(), errno, "open log file");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Dup2(const Napi::CallbackInfo &info) {
  int from = IntArg(info, 0, "from"), to = IntArg(info, 1, "to");
  int rc;
  do rc = dup2(from, to);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) throw SystemError(info.Env(), errno, "dup2");
  return info.Env().Undefined();
}

// notify(socketPath, state, fds?): one datagram to the service manager, fds attached.
Napi::Value Notify(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "socketPath");
  std::string state = StringArg(info, 1, "state");
  std::vector<int> fds;
  if (info.Length() > 2 && info[2].IsArray()) fds = FdList(info[2].As<Napi::Array>());
  if (sd_notify_send(path.c_str(), state.c_str(), fds.data(), static_cast<int>(fds.size())) < 0)
    throw SystemError(info.Env(), errno, "sd_notify");
  return info.Env().Undefined();
}

// notifyBarrier(socketPath, timeoutMs): returns once the manager has handled what came before.
Napi::Value NotifyBarrier(const Napi::CallbackInfo &info) {
  std::string path = StringArg(info, 0, "socketPath");
  if (sd_notify_barrier(path.c_str(), IntArg(info, 1, "timeoutMs")) < 0)
    throw SystemError(info.Env(), errno, "sd_notify barrier");
  return info.Env().Undefined();
}

// syslogRelay(ident, socketPath) -> { out, err }: the write ends of a relay to syslog.
Napi::Value SyslogRelay(const Napi::CallbackInfo &info) {
  std::string ident = StringArg(info, 0, "ident");
  std::string path = StringArg(info, 1, "socketPath");
  int out_fd, err_fd;
  if (syslog_relay_start(ident.c_str(), path.c_str(), &out_fd, &err_fd) < 0)
    throw SystemError(info.Env(), errno, "syslog relay");
  Napi::Object fds = Napi::Object::New(info.Env());
  fds.Set("out", Napi::Number::New(info.Env(), out_fd));
  fds.Set("err", Napi::Number::New(info.Env(), err_fd));
  return fds;
}

Napi::Value MonotonicUsec(const Napi::CallbackInfo &info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(sd_notify_monotonic_usec()));
}

// lookupUser(name) -> { uid, gid }; lookupGroup(name) -> gid.
Napi::Value LookupUser(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0, "name");
  uid_t uid;
  gid_t gid;
  if (privileges_lookup_user(name.c_str(), &uid, &gid) < 0)
    throw SystemError(info.Env(), errno, "getpwnam");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("uid", Napi::Number::New(info.Env(), uid));
  out.Set("gid", Napi::Number::New(info.Env(), gid));
  return out;
}

Napi::Value LookupGroup(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0, "name");
  gid_t gid;
  if (privileges_lookup_group(name.c_str(), &gid) < 0)
    throw SystemError(info.Env(), errno, "getgrnam");
  return Napi::Number::New(info.Env(), gid);
}

// dropPrivileges(user, uid, gid): initgroups, setgid, setuid, verified.
Napi::Value DropPrivileges(const Napi::CallbackInfo &info) {
  std::string user = StringArg(info, 0, "user");
  if (privileges_drop(user.c_str(), IntArg(info, 1, "uid"), IntArg(info, 2, "gid")) < 0)
    throw SystemError(info.Env(), errno, "drop privileges");
  return info.Env().Undefined();
}

Napi::Value SetCloexec(const Napi::CallbackInfo &info) {
  int fd = IntArg(info, 0, "fd");
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
    throw SystemError(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// setProcessName(name): the name ps, pgrep -x, killall and systemctl status show (/proc/PID/comm,
// at most 15 bytes), which Node sets to "MainThread". The command line stays as it was.
Napi::Value SetProcessName(const Napi::CallbackInfo &info) {
  std::string name = StringArg(info, 0, "name");
  if (prctl(PR_SET_NAME, name.c_str(), 0, 0, 0) < 0) throw SystemError(info.Env(), errno, "prctl");
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("forkParent", Napi::Function::New(env, ForkParent));
  exports.Set("claimReadyChannel", Napi::Function::New(env, ClaimReadyChannel));
  exports.Set("signalReady", Napi::Function::New(env, SignalReady));
  exports.Set("pidfileAcquire", Napi::Function::New(env, PidfileAcquire));
  exports.Set("pidfileProbe", Napi::Function::New(env, PidfileProbe));
  exports.Set("pidfileRemoveStale", Napi::Function::New(env, PidfileRemoveStale));
  exports.Set("pidfileRelease", Napi::Function::New(env, PidfileRelease));
  exports.Set("pidfilePrepareSuccessor", Napi::Function::New(env, PidfilePrepareSuccessor));
  exports.Set("pidfileTakeOver", Napi::Function::New(env, PidfileTakeOver));
  exports.Set("handoverListen", Napi::Function::New(env, HandoverListen));
  exports.Set("handoverAccept", Napi::Function::New(env, HandoverAccept));
  exports.Set("handoverGive", Napi::Function::New(env, HandoverGive));
  exports.Set("listeningFds", Napi::Function::New(env, ListeningFds));
  exports.Set("openLog", Napi::Function::New(env, OpenLog));
  exports.Set("dup2", Napi::Function::New(env, Dup2));
  exports.Set("notify", Napi::Function::New(env, Notify));
  exports.Set("notifyBarrier", Napi::Function::New(env, NotifyBarrier));
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser));
  exports.Set("lookupGroup", Napi::Function::New(env, LookupGroup));
  exports.Set("dropPrivileges", Napi::Function::New(env, DropPrivileges));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec));
  exports.Set("setProcessName", Napi::Function::New(env, SetProcessName));
  exports.Set("syslogRelay", Napi::Function::New(env, SyslogRelay));
  exports.Set("monotonicUsec", Napi::Function::New(env, MonotonicUsec));
  exports.Set("readyMarker", Napi::String::New(env, FORK_PARENT_MARKER));
  // The real-time signals' range, which Node does not give (SIGRTMIN+3 in a message).
  exports.Set("sigrtmin", Napi::Number::New(env, SIGRTMIN));
  exports.Set("sigrtmax", Napi::Number::New(env, SIGRTMAX));
  return exports;
}

} // namespace

NODE_API_MODULE(forkd, Init)
