#!/usr/bin/env node
// create-forkd-app: writes a new daemon project, this package minus the generator plus template/.
// `npm create forkd-app my-daemon -- --name mydaemon` runs it. Of the compiled tree only
// dist/create ships, so it imports nothing from ../daemon; scripts/ ships as it is (new projects
// need it), and the packaging names come from there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as prompts from '@clack/prompts';

import {
  child,
  descriptionProblems,
  EX,
  existing,
  Failure,
  mergePackageJson,
  nameProblems,
  type ProjectFile,
  packageManager,
  projectFiles,
  projectVars,
  render,
  self,
  step,
  type Template,
  templates,
  writeProject,
} from './project';

export { descriptionProblems, fill, nameProblems, optsVar, overlay, render } from './project';

import { UPDATE_CONFLICT, update } from './update';

const options = {
  name: {
    type: 'string',
    value: 'NAME',
    help: 'daemon name: npm package, Debian package, executable and service (default: the directory name)',
  },
  description: {
    type: 'string',
    value: 'TEXT',
    help: 'one-line summary, used by the package, the unit and the man page',
  },
  template: {
    type: 'string',
    value: 'http|worker',
    help: 'the server to start from: an HTTP service (default), or a worker with no socket',
  },
  port: { type: 'string', value: 'N', help: 'http: the port it serves on, 1-65535 (default: 8080, on 127.0.0.1)' },
  yes: { type: 'boolean', short: 'y', help: 'accept the defaults and ask nothing' },
  overwrite: {
    type: 'boolean',
    help: 'write into a directory holding files; changed files are listed and need a yes at a terminal',
  },
  install: { type: 'boolean', negatable: true, help: 'do not install the dependencies' },
  git: { type: 'boolean', negatable: true, help: 'do not create a git repository and first commit' },
  update: {
    type: 'boolean',
    help: 'in a generated project (DIR, default .): bring its runtime to this version, keep your work',
  },
  'dry-run': { type: 'boolean', help: 'with --update: show what would change, write nothing' },
  from: {
    type: 'string',
    value: 'PKG',
    help: "with --update: the recorded version's package (tarball), if npm cannot fetch it",
  },
  force: { type: 'boolean', help: 'with --update: update a project that has uncommitted changes' },
  help: { type: 'boolean', short: 'h', help: 'show this help and exit' },
  version: { type: 'boolean', short: 'V', help: 'show the version and exit' },
} as const;

const exitCodes: [number, string][] = [
  [EX.OK, 'the project is written (and installed and committed, unless told not to), or updated'],
  [UPDATE_CONFLICT, '--update: updated, with conflicts left to resolve (each is listed; files hold <<<<<<< markers)'],
  [EX.USAGE, 'bad command line, name, description, --template or --port: nothing was written'],
  [EX.UNAVAILABLE, 'the project is written, but the install or git step failed: run it yourself'],
  [EX.SOFTWARE, 'internal error: this create-forkd-app package is broken (please report it)'],
  [
    EX.CANTCREAT,
    'the directory holds files (each is listed; see --overwrite), or cannot be written; --update: uncommitted changes',
  ],
  [EX.CANCELLED, 'cancelled (Ctrl-C or a cancelled prompt): what it wrote is undone, replaced files restored'],
];

export function helpText(): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const short = 'short' in o ? `-${o.short}, ` : '    ';
    const flag = `${short}--${'negatable' in o ? 'no-' : ''}${name}${'value' in o ? ` ${o.value}` : ''}`;
    return `  ${flag.padEnd(24)}${o.help}`;
  });
  return [
    `Usage: npm create forkd-app [DIR] -- [options]`,
    `       create-forkd-app [DIR] [options]`,
    `       npm create forkd-app@latest -- --update [DIR] [--dry-run] [--from PKG] [--force]`,
    '',
    'Writes a Linux daemon project in TypeScript into DIR: fork_parent start-up, a C core, a sample',
    'server, one executable, .deb/.rpm/tarball packages, and tap tests. Asks for what is missing',
    'when a person is at the terminal (stdin is a TTY, CI is unset, no --yes).',
    '',
    'Options:',
    ...rows,
    '',
    'Exit status:',
    ...exitCodes.map(([code, text]) => `  ${String(code).padEnd(5)}${text}`),
    '',
  ].join('\n');
}

/** One line that names the thing, lists each of its problems and says the fix. */
function invalid(what: string, value: string, problems: string[], fix: string): Failure {
  return new Failure(`${what} ${JSON.stringify(value)} ${problems.join('; ')}; ${fix}`, EX.USAGE);
}

/**
 * What writing the project into an existing `dir` would do. Nothing the user has is removed: a
 * file the project does not have stays, and so do the lock file and node_modules (the install
 * updates them). A file that differs from the project's is to be replaced only once confirmed.
 */
interface Plan {
  /** Files the project brings that differ from those in dir: replaced only if confirmed. */
  replace: string[];
  /** Paths where a link, a directory or an unreadable file is in the way: always refused. */
  blocked: string[];
  /** Top-level entries of dir that the project does not bring: kept as they are. */
  others: string[];
}

function plan(dir: string, files: ProjectFile[]): Plan {
  const replace: string[] = [];
  const blocked: string[] = [];
  for (const f of files) {
    const e = existing(dir, f.path);
    if (e.kind === 'blocked') blocked.push(e.why);
    else if (e.kind === 'file' && (!e.content.equals(f.content) || e.mode !== f.mode)) replace.push(f.path);
  }
  const tops = new Set([...files.map((f) => f.path.split('/')[0]), '.git', 'node_modules', 'package-lock.json']);
  const others = existsSync(dir) ? readdirSync(dir).filter((e) => !tops.has(e)) : [];
  return { replace, blocked: [...new Set(blocked)], others };
}

/** "a, b, c" or, past `most`, "a, b, … and N more": for what is kept anyway, never for what is replaced. */
function some(items: string[], most = 10): string {
  return items.length <= most ? items.join(', ') : `${items.slice(0, most).join(', ')} and ${items.length - most} more`;
}

/** "Name <email>" from git's configuration, or undefined. */
function gitUser(): string | undefined {
  const get = (key: string) => {
    try {
      return execFileSync('git', ['config', '--get', key], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  };
  const [who, mail] = [get('user.name'), get('user.email')];
  return who && mail ? `${who} <${mail}>` : undefined;
}

interface Answers {
  dir: string;
  name: string;
  description: string;
  template: Template;
  /** http only. */
  port?: number;
}

/** --template: http or worker. */
function templateOf(value: string): Template {
  if (Object.hasOwn(templates, value)) return value as Template;
  throw new Failure(
    `--template ${JSON.stringify(value)} is not a template: ${Object.keys(templates).join(' or ')}; see --help`,
    EX.USAGE,
  );
}

/** Every reason `text` is not a port to serve on: a decimal 1 to 65535. */
function portProblems(text: string): string[] {
  const n = Number(text);
  return /^\d{1,5}$/.test(text) && n >= 1 && n <= 65_535 ? [] : ['is not a port number from 1 to 65535'];
}

async function ask(given: Partial<Answers>, interactive: boolean): Promise<Answers> {
  const cancelled = () => new Failure('cancelled', EX.CANCELLED);
  const text = async (message: string, placeholder: string, check: (v: string) => string[]) => {
    const v = await prompts.text({
      message,
      placeholder,
      defaultValue: placeholder,
      validate: (v) => check(v || placeholder)[0],
    });
    if (prompts.isCancel(v)) throw cancelled();
    return v || placeholder;
  };
  if (interactive) prompts.intro(`create-forkd-app ${self.version}`);

  let dir = given.dir;
  if (dir === undefined && interactive)
    dir = await text('Project directory', given.name ?? 'my-daemon', (v) => (v.trim() ? [] : ['give a directory']));
  dir ??= given.name;
  if (dir === undefined)
    throw new Failure('no project directory: name one, as in "npm create forkd-app my-daemon"', EX.USAGE);

  const fromDir = basename(resolve(dir));
  let name = given.name;
  if (name === undefined && interactive)
    name = await text('Daemon name', nameProblems(fromDir).length ? 'mydaemon' : fromDir, nameProblems);
  name ??= fromDir;
  const fix = given.name === undefined ? 'pass --name NAME' : 'choose another --name';
  const np = nameProblems(name);
  if (np.length)
    throw invalid('name', name, np, given.name === undefined ? `${fix} (it defaults to the directory's name)` : fix);

  let template = given.template;
  if (template === undefined && interactive) {
    const v = await prompts.select({
      message: 'Server',
      options: Object.entries(templates).map(([value, hint]) => ({ value: value as Template, label: value, hint })),
      initialValue: 'http' as Template,
    });
    if (prompts.isCancel(v)) throw cancelled();
    template = v;
  }
  template ??= 'http';
  if (template !== 'http' && given.port !== undefined)
    throw new Failure(`--port is for --template http: a ${template} does not listen; leave it out`, EX.USAGE);
  let port = given.port;
  if (template === 'http' && port === undefined && interactive)
    port = Number(await text('Port to serve on (127.0.0.1)', '8080', portProblems));

  const fallback = template === 'http' ? 'Small HTTP service made with forkd' : 'Small worker made with forkd';
  let description = given.description;
  if (description === undefined && interactive)
    description = await text('One-line description', fallback, (v) => descriptionProblems(v, name));
  description ??= fallback;
  const dp = descriptionProblems(description, name);
  if (dp.length) throw invalid('description', description, dp, 'change --description');
  return { dir, name, description, template, port };
}

/** The command line, or a Failure that names what is wrong with it. */
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (e) {
    const { code, message } = e as NodeJS.ErrnoException;
    const option = /'(-[^' ]+)/.exec(message)?.[1];
    const text =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${option}`
        : /ambiguous|missing/.test(message)
          ? `${option} needs a value (write ${option}=VALUE for one that starts with '-')`
          : message.split('\n')[0].replace(/\.$/, '');
    throw new Failure(`${text}; see --help`, EX.USAGE);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(helpText());
    return EX.OK;
  }
  if (values.version) {
    process.stdout.write(`create-forkd-app ${self.version}\n`);
    return EX.OK;
  }
  if (positionals.length > 1)
    throw new Failure(
      `one project directory, not ${positionals.length} (${positionals.join(' ')}); see --help`,
      EX.USAGE,
    );
  if (positionals[0] === '')
    throw new Failure('the project directory is an empty string; name one, or . for this directory', EX.USAGE);
  const updateOnly = (['dry-run', 'from', 'force'] as const).filter((o) => values[o] !== undefined);
  if (values.update) {
    const clash = (['name', 'description', 'overwrite', 'yes', 'git'] as const).filter((o) => values[o] !== undefined);
    if (clash.length)
      throw new Failure(
        `--update keeps the project's identity and files: leave out ${clash.map((o) => `--${o === 'git' ? 'no-git' : o}`).join(', ')}`,
        EX.USAGE,
      );
    return update({
      dir: resolve(positionals[0] ?? '.'),
      from: values.from && (existsSync(values.from) ? resolve(values.from) : values.from),
      dryRun: values['dry-run'] === true,
      force: values.force === true,
      install: values.install !== false,
    });
  }
  if (updateOnly.length)
    throw new Failure(
      `${updateOnly.map((o) => `--${o}`).join(', ')} ${updateOnly.length > 1 ? 'are' : 'is'} only for --update; see --help`,
      EX.USAGE,
    );

  const interactive = Boolean(process.stdin.isTTY) && !process.env.CI && !values.yes;
  if (values.port !== undefined && portProblems(values.port).length)
    throw invalid('--port', values.port, portProblems(values.port), 'see --help');
  const a = await ask(
    {
      dir: positionals[0],
      name: values.name,
      description: values.description,
      template: values.template === undefined ? undefined : templateOf(values.template),
      port: values.port === undefined ? undefined : Number(values.port),
    },
    interactive,
  );
  const dir = resolve(a.dir);
  const shown = relative(process.cwd(), dir) || '.';

  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new Failure(`${shown} exists and is not a directory; choose another project directory`, EX.CANTCREAT);

  const user = gitUser();
  const vars = projectVars({
    name: a.name,
    description: a.description,
    maintainer: user ?? `${a.name} maintainers <${a.name}@example.org>`,
    listen: a.port ? `127.0.0.1:${a.port}` : undefined,
    serves: a.template === 'http' ? undefined : 'doing a round of work every 60 s',
  });
  const rendered = render(vars, a.template);
  const theirJson = existing(dir, 'package.json');
  const merged = mergePackageJson(
    rendered['package.json'],
    theirJson.kind === 'file' ? theirJson.content.toString() : undefined,
  );
  const files = projectFiles({ ...rendered, 'package.json': merged.text }, a.template);
  const { replace, blocked, others } = plan(dir, files);
  if (blocked.length)
    throw new Failure(
      `${shown}: ${blocked.join('; ')}; the generator writes nothing through a link or over a directory: move them away`,
      EX.CANTCREAT,
    );

  if (replace.length || others.length) {
    const json = [
      merged.kept.length && `keeping your ${merged.kept.join(', ')}`,
      merged.lost.length && `changing its ${merged.lost.join(', ')}`,
    ];
    const about =
      replace.includes('package.json') && json.some(Boolean)
        ? ` (package.json: ${json.filter(Boolean).join('; ')})`
        : '';
    const what = [
      replace.length && `${replace.join(', ')} would be replaced${about}`,
      others.length && `${some(others)} would be mixed in`,
    ];
    const line = `${shown} is not empty: ${what.filter(Boolean).join('; ')}`;
    if (!values.overwrite && !interactive)
      throw new Failure(
        `${line}; choose an empty directory, or pass --overwrite (changed files need a yes at a terminal)`,
        EX.CANTCREAT,
      );
    if (replace.length && !interactive)
      throw new Failure(
        `${line}; --overwrite replaces changed files only at a terminal, after a yes: run it there, or move them away`,
        EX.CANTCREAT,
      );
    if (interactive && (replace.length || !values.overwrite)) {
      const question = replace.length
        ? `Replace ${replace.length === 1 ? 'it' : `these ${replace.length} files`} and write the project there?`
        : 'Write the project there?';
      const ok = await prompts.confirm({ message: `${line}. ${question}`, initialValue: false });
      if (prompts.isCancel(ok) || !ok) throw new Failure('cancelled; nothing was written', EX.CANCELLED);
    }
  }

  // The prompts' closing line.
  if (interactive) prompts.outro(`Writing ${a.name} (${a.template}) into ${shown}`);

  // From here on, Ctrl-C undoes what we wrote: the whole tree if we created the directory.
  let created: string | undefined;
  try {
    created = existsSync(dir) ? undefined : mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Failure(
      `cannot create ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; choose a directory you can write`,
      EX.CANTCREAT,
    );
  }
  // The install changes these two: an undo removes a node_modules it created, and puts a lock
  // file the user had back as it was.
  const hadModules = existsSync(join(dir, 'node_modules'));
  const hadGit = existsSync(join(dir, '.git'));
  const lock = join(dir, 'package-lock.json');
  const lockBefore = existsSync(lock) ? readFileSync(lock) : undefined;
  let undoFiles = () => {};
  const undo = () => {
    if (created) return rmSync(created, { recursive: true, force: true });
    undoFiles();
    if (!hadModules) rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    if (!hadGit) rmSync(join(dir, '.git'), { recursive: true, force: true });
    if (lockBefore) writeFileSync(lock, lockBefore);
    else rmSync(lock, { force: true });
  };
  let interrupted = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted ||= 128 + constants.signals[signal];
    if (child)
      child.kill(signal); // the step ends, then we clean up below
    else {
      undo();
      const what = created ? `removed ${relative(process.cwd(), created) || '.'}` : `undid what it wrote in ${shown}`;
      process.stderr.write(`create-forkd-app: cancelled; ${what}\n`);
      process.exit(interrupted);
    }
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  const checkInterrupted = () => {
    if (interrupted) onSignal('SIGINT');
  };

  try {
    undoFiles = writeProject(dir, files);
  } catch (e) {
    undo();
    throw new Failure(`cannot write ${shown}: ${(e as Error).message}; choose a directory you can write`, EX.CANTCREAT);
  }
  checkInterrupted();

  const pm = packageManager();
  const failed: string[] = [];
  if (values.install !== false) {
    process.stderr.write(`create-forkd-app: ${pm} install in ${shown}\n`);
    const code = await step(pm, ['install'], dir);
    checkInterrupted();
    if (code !== 0) failed.push(`${pm} install (exit ${code})`);
  }
  // Into a directory that held files of the user's, commit only the project's: never a stray .env.
  const projectPaths = [...new Set([...files.map((f) => f.path.split('/')[0]), 'package-lock.json'])].filter((p) =>
    existsSync(join(dir, p)),
  );
  if (values.git !== false) failed.push(...(await gitInit(dir, others.length ? projectPaths : ['.'])));
  checkInterrupted();

  const run = (s: string) => (pm === 'npm' && s === 'test' ? 'npm test' : `${pm} run ${s}`);
  const next: [string | false, string?][] = [
    [shown !== '.' && `cd ${shown}`],
    [(values.install === false || failed.length > 0) && `${pm} install`],
    [run('build'), `the native addon, dist/ and out/${a.name}`],
    ['npm start', `${vars.serves} in the foreground; Ctrl-C stops it`],
    [run('test')],
    [
      run('package'),
      `out/${a.name}_${(JSON.parse(rendered['package.json']) as { version: string }).version}_amd64.deb, .rpm, .tar.gz`,
    ],
  ];
  const lines = next.filter(([cmd]) => cmd).map(([cmd, why]) => (why ? `${(cmd as string).padEnd(32)}# ${why}` : cmd));
  process.stdout.write(`\nWrote ${a.name} into ${shown}. Next:\n\n${lines.map((l) => `  ${l}`).join('\n')}\n\n`);
  if (!user)
    process.stdout.write(
      'Set "maintainer" in package.json\'s "forkd" block before you ship packages (git has no user.name/user.email).\n',
    );
  if (failed.length)
    throw new Failure(
      `the project is written, but ${failed.join(' and ')} failed; run it yourself in ${shown}`,
      EX.UNAVAILABLE,
    );
  return EX.OK;
}

/** git init and a first commit, unless `dir` is already inside a work tree. */
async function gitInit(dir: string, paths: string[]): Promise<string[]> {
  const inside = await step('git', ['rev-parse', '--is-inside-work-tree'], dir, true);
  if (inside === 0) return [];
  if (inside === 127) return ['git (not installed)'];
  // Without an identity git cannot commit: leave the files staged and say so, not fail.
  const identity = (await step('git', ['var', 'GIT_AUTHOR_IDENT'], dir, true)) === 0;
  const steps = [
    ['init', '-q'],
    ['add', '-A', '--', ...paths],
    ...(identity ? [['commit', '-q', '-m', 'Initial commit from create-forkd-app']] : []),
  ];
  for (const args of steps) {
    const code = await step('git', args, dir);
    if (code !== 0) return [`git ${args[0]} (exit ${code})`];
  }
  if (!identity)
    process.stderr.write('create-forkd-app: git has no user.name/user.email: the files are staged, not committed\n');
  return [];
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (!(e instanceof Failure)) e = new Failure(`internal error: ${(e as Error).stack ?? e}`, EX.SOFTWARE);
      const f = e as Failure;
      process.stderr.write(`create-forkd-app: ${f.message}\n`);
      process.exit(f.exitCode);
    },
  );
}
