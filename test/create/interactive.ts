// create-forkd-app at a real terminal (tmux): the prompts, and Ctrl-C at a prompt and mid-install.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { tempDir, waitFor } from '../lib/proc';
import { tmuxServer } from '../lib/tmux';
import { create, generator, gitIdentity, tree } from './lib';

/**
 * Runs the generator with args in a tmux terminal, in cwd, with CI unset (a person is present).
 * The shell records the exit status in a file of its own directory.
 */
function terminal(t: { teardown(fn: () => void): void }, cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  const tmux = tmuxServer(t, 'forkd-create');
  const shellDir = tempDir(t);
  const quoted = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const vars = Object.entries(env).map(([k, v]) => `${k}=${quoted(v!)}`);
  // The trap keeps the shell alive to record $? when Ctrl-C kills its child; the shell itself
  // stays out of cwd.
  writeFileSync(
    join(shellDir, 'run.sh'),
    `trap 'true' INT\n(cd ${quoted(cwd)} && exec env -u NODE_OPTIONS -u CI ${vars.join(' ')} ${quoted(process.execPath)} ${quoted(generator)} ${args.map(quoted).join(' ')})\necho $? > ${quoted(join(shellDir, 'exit'))}\nsleep 60\n`,
  );
  tmux('new-session', '-d', '-x', '150', '-y', '40', '-c', shellDir, 'sh ./run.sh');
  const screen = () => tmux.screen();
  const exitFile = join(shellDir, 'exit');
  return {
    screen,
    // The prompt library wraps long messages itself: compare with the line breaks as spaces.
    see: (text: string, timeoutMs?: number) =>
      waitFor(`"${text}" on the screen`, () => screen().replace(/\s+/g, ' ').includes(text), timeoutMs),
    type: (text: string) => tmux('send-keys', '-l', text),
    key: (key: string) => tmux('send-keys', key),
    /** Types text, if any, and Enter: the answer to the prompt on the screen. */
    answer: (text = '') => {
      if (text) tmux('send-keys', '-l', text);
      tmux('send-keys', 'Enter');
    },
    exit: async () => {
      await waitFor(
        'the exit status',
        () => existsSync(exitFile) && readFileSync(exitFile, 'utf8').endsWith('\n'),
        20_000,
      );
      return Number(readFileSync(exitFile, 'utf8'));
    },
  };
}

/** Live processes whose working directory is dir or below it (npm and its children). */
function processesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return `${readlinkSync(`/proc/${p}/cwd`)}/`.startsWith(`${dir}/`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The project the prompts wrote (a) is the one the flags wrote (b): the same files, byte for byte. */
function sameProject(t: Test, a: string, b: string): void {
  t.same(tree(a), tree(b), 'the same files');
  const differ = tree(a).filter((f) => !readFileSync(join(a, f)).equals(readFileSync(join(b, f))));
  t.same(differ, [], 'with the same contents');
}

t.test('the prompts accept answers and give the same project as the flags', async (t) => {
  const dir = tempDir(t);
  const env = gitIdentity(dir);
  const term = terminal(t, dir, ['--no-install', '--no-git'], env);
  await term.see('Project directory');
  term.answer('by-prompts');
  await term.see('Daemon name');
  t.match(term.screen(), 'by-prompts', 'the directory is offered as the name');
  term.answer('acmed');
  await term.see('Server');
  t.match(term.screen(), /http[\s\S]*worker/, 'the shapes are offered');
  term.answer();
  await term.see('Port to serve on');
  term.answer('80800');
  await term.see('is not a port number from 1 to 65535');
  for (let i = 0; i < 5; i++) term.key('BSpace');
  term.answer('9090');
  await term.see('One-line description');
  // Rejected answers are explained at the prompt, which waits for a better one.
  term.answer('The Acme daemon.');
  await term.see("must not start with 'A', 'An' or 'The'");
  for (let i = 0; i < 'The Acme daemon.'.length; i++) term.key('BSpace');
  term.answer('Greeting service for Acme');
  t.equal(await term.exit(), 0, term.screen());
  t.match(term.screen(), 'Writing acmed (http) into by-prompts', 'the prompts end with a closing line');
  t.match(term.screen(), 'Wrote acmed into by-prompts');
  t.match(
    term.screen(),
    /cd by-prompts[\s\S]*npm run build[\s\S]*npm test[\s\S]*npm run package/,
    'and the next steps',
  );

  const flags = await create(
    [
      'by-flags',
      '--name',
      'acmed',
      '--description',
      'Greeting service for Acme',
      '--port',
      '9090',
      '--yes',
      '--no-install',
      '--no-git',
    ],
    { cwd: dir, env },
  );
  t.equal(flags.code, 0, flags.err);
  sameProject(t, join(dir, 'by-prompts'), join(dir, 'by-flags'));
  t.equal(JSON.parse(readFileSync(join(dir, 'by-prompts', 'package.json'), 'utf8')).forkd.listen, '127.0.0.1:9090');
});

t.test('the worker at the prompt: no port asked, the same project as --template worker', async (t) => {
  const dir = tempDir(t);
  const env = gitIdentity(dir);
  const term = terminal(t, dir, ['by-prompts', '--name', 'workd', '--no-install', '--no-git'], env);
  await term.see('Server');
  term.key('Down');
  term.answer();
  await term.see('One-line description');
  t.notMatch(term.screen(), 'Port', 'a worker has no port');
  term.answer();
  t.equal(await term.exit(), 0, term.screen());
  t.match(term.screen(), 'Writing workd (worker) into by-prompts');
  const flags = await create(['by-flags', '--name', 'workd', '--template', 'worker', '--no-install', '--no-git'], {
    cwd: dir,
    env,
  });
  t.equal(flags.code, 0, flags.err);
  sameProject(t, join(dir, 'by-prompts'), join(dir, 'by-flags'));
});

t.test(
  'a directory holding files: the prompt lists each change; n keeps it as it was, y writes and keeps the rest',
  async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'acme', 'src', 'server'), { recursive: true });
    writeFileSync(join(dir, 'acme', 'package.json'), '{"dependencies": {"fastify": "5.6.1"}}\n');
    writeFileSync(join(dir, 'acme', 'src', 'server', 'index.ts'), '// my server\n');
    writeFileSync(join(dir, 'acme', 'notes.txt'), 'mine\n');
    const args = [
      'acme',
      '--name',
      'acmed',
      '--description',
      'Greeting service for Acme',
      '--template',
      'http',
      '--port',
      '8080',
      '--no-install',
      '--no-git',
      '--overwrite',
    ];
    const no = terminal(t, dir, args, {});
    await no.see(
      'acme is not empty: package.json, src/server/index.ts would be replaced (package.json: keeping your fastify; changing its dependencies); notes.txt would be mixed in. Replace these 2 files',
    );
    no.type('n');
    t.equal(await no.exit(), 130, 'no: cancelled');
    t.same(tree(join(dir, 'acme')), ['notes.txt', 'package.json', 'src/server/index.ts'], 'nothing written');
    t.equal(readFileSync(join(dir, 'acme', 'src', 'server', 'index.ts'), 'utf8'), '// my server\n');

    const yes = terminal(t, dir, args, {});
    await yes.see('acme is not empty');
    yes.type('y');
    t.equal(await yes.exit(), 0, yes.screen());
    const written = JSON.parse(readFileSync(join(dir, 'acme', 'package.json'), 'utf8'));
    t.equal(written.name, 'acmed', 'package.json replaced');
    t.equal(written.dependencies.fastify, '5.6.1', 'the dependency the user added is kept');
    t.equal(readFileSync(join(dir, 'acme', 'notes.txt'), 'utf8'), 'mine\n', 'the rest kept');
  },
);

t.test('Ctrl-C at a prompt: exit 130, nothing written', async (t) => {
  const dir = tempDir(t);
  const term = terminal(t, dir, ['acme', '--no-install', '--no-git'], {});
  await term.see('Daemon name');
  term.key('C-c');
  t.equal(await term.exit(), 130);
  t.same(readdirSync(dir), [], 'nothing written');
});

t.test('Ctrl-C during npm install: exit 130, the directory it created is gone, no process left', async (t) => {
  const dir = tempDir(t);
  const term = terminal(t, dir, ['new/acme', '--name', 'acmed', '--yes', '--no-git'], {});
  await term.see('npm install in new/acme', 30_000);
  await waitFor('the install to run', () => existsSync(join(dir, 'new', 'acme', 'node_modules')), 60_000).catch(
    () => undefined,
  );
  term.key('C-c');
  t.equal(await term.exit(), 130, term.screen());
  t.match(term.screen(), 'create-forkd-app: cancelled; removed new');
  t.same(readdirSync(dir), [], 'new/ (created by the generator) is gone');
  t.same(processesIn(dir), [], 'no process left working in it');
});
