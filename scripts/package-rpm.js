#!/usr/bin/env node
'use strict';
// out/<name>-<version>-1.<arch>.rpm from the one description (packaging/describe.js), and
// out/<name>-debuginfo-<version>-1.<arch>.rpm with the executable's symbols, built with
// rpmbuild -bb (--target for another architecture: nothing is compiled, the files are staged).
// Usage: package-rpm.js [--version V] [--out DIR] [--arch A]
const { mkdirSync, renameSync, utimesSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { describe, inStage, stageTree, tool, run } = require('./packaging/describe');
const { longDescription, rpmScriptlets } = require('./packaging/render');

function buildRpm({ version, outDir, arch }) {
  const desc = describe({ version, arch });
  const { id, debug } = desc;
  const rpmName = (pkg) => `${pkg}-${id.version}-1.${id.arch.rpm}.rpm`;
  const main = inStage(outDir, 'rpm', (top) => {
    const stage = join(top, 'stage');
    const files = stageTree(desc, stage, '/usr/lib/systemd/system');
    // RPM packages the log directory logrotate works in (systemd's LogsDirectory does it on deb).
    mkdirSync(join(stage, id.logDir), { recursive: true });
    utimesSync(join(stage, id.logDir), id.epoch, id.epoch);
    // The symbols, staged apart for the -debuginfo subpackage.
    const debugStage = join(top, 'debug');
    stageTree({ id, files: [{ role: 'debug', path: debug.path, mode: 0o644, content: debug.content }] }, debugStage);
    const s = rpmScriptlets(id);
    const day = new Date(id.epoch * 1000).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+).*$/, '$1 $3 $2 $4');
    // The package's own directories, each nested one too (dependencies' addons under /usr/lib/NAME/).
    const owned = [`/etc/${id.name}`, `/usr/lib/${id.name}`, `/usr/share/doc/${id.name}`];
    const dirs = [
      ...new Set(
        files.flatMap((f) => {
          const top = owned.find((d) => f.path.startsWith(`${d}/`));
          if (!top) return [];
          const parts = f.path
            .slice(top.length + 1)
            .split('/')
            .slice(0, -1);
          return [top, ...parts.map((_, i) => `${top}/${parts.slice(0, i + 1).join('/')}`)];
        }),
      ),
    ].sort();
    const spec = `# Rendered by scripts/package-rpm.js from package.json; do not edit.
# Never strip: the executable's base was stripped before the application went in, and stripping
# now would remove it. Its symbols are staged already, in the -debuginfo subpackage below.
%global __strip /bin/true
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
# Reproducible: every timestamp is SOURCE_DATE_EPOCH.
%global source_date_epoch_from_changelog 0
%global use_source_date_epoch_as_buildtime 1
%global clamp_mtime_to_source_date_epoch 1
%global _buildhost reproducible
%global _binary_payload w6.xzdio

Name:           ${id.name}
Version:        ${id.version}
Release:        1
Summary:        ${id.summary}
License:        ${id.license} and others
${id.homepage ? `URL:            ${id.homepage}\n` : ''}Group:          System Environment/Daemons
Packager:       ${id.maintainer}
Requires(pre):  shadow-utils
Requires:       logrotate

%description
${longDescription(id)
  .map((l) => l.replaceAll('%', '%%')) // rpm would expand a macro in the text
  .join('\n')}

%package debuginfo
Summary:        Debug information for package ${id.name}
Group:          Development/Debug
Requires:       ${id.name} = %{version}-%{release}
AutoReqProv:    no

%description debuginfo
The symbols of the ${id.name} executable (of the Node.js it is made from),
which gdb and elfutils find by its build-id under /usr/lib/debug/.build-id/.

%install
cp -a ${stage}/. %{buildroot}/
cp -a ${debugStage}/. %{buildroot}/

%pre
${s.pre}

%post
${s.post}

%preun
${s.preun}

%postun
${s.postun}

%files
${dirs.map((d) => `%dir ${d}`).join('\n')}
%dir %attr(0755,${id.user},${id.user}) ${id.logDir}
${files
  .map((f) => {
    const attr = `%attr(${f.mode.toString(8).padStart(4, '0')},root,root)`;
    // An init script is not configuration in RPM's convention (it is a conffile on Debian).
    if (f.conffile && !f.path.startsWith('/etc/init.d/')) return `%config(noreplace) ${attr} ${f.path}`;
    if (f.path.endsWith('/copyright') || f.path.endsWith('/LICENSE.node')) return `%license ${attr} ${f.path}`;
    return `${attr} ${f.path}`;
  })
  .join('\n')}

%files debuginfo
%dir /usr/lib/debug/.build-id/${debug.buildId.slice(0, 2)}
%attr(0644,root,root) ${debug.path}

%changelog
* ${day} ${id.maintainer} - ${id.version}-1
- Release ${id.version}.
`;
    const specFile = join(top, `${id.name}.spec`);
    writeFileSync(specFile, spec);
    tool(
      'rpmbuild',
      [
        '-bb',
        '--quiet',
        // The architecture: as BuildArch, rpmbuild would refuse one this machine cannot build for.
        '--target',
        `${id.arch.rpm}-linux`,
        '--define',
        `_topdir ${top}`,
        '--define',
        `_rpmdir ${top}/rpms`,
        '--define',
        '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
        specFile,
      ],
      { env: { ...process.env, SOURCE_DATE_EPOCH: String(id.epoch) }, apt: 'rpm' },
    );
    // The subpackage is moved out beside the main one, which inStage moves.
    renameSync(join(top, 'rpms', rpmName(`${id.name}-debuginfo`)), join(outDir, rpmName(`${id.name}-debuginfo`)));
    return join(top, 'rpms', rpmName(id.name));
  });
  return [main, join(outDir, rpmName(`${id.name}-debuginfo`))].join('\n');
}

module.exports = { buildRpm };
if (require.main === module) run(buildRpm);
