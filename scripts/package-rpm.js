#!/usr/bin/env node
'use strict';
// out/<name>-<version>-1.<arch>.rpm from the one description (packaging/describe.js), and
// out/<name>-debuginfo-<version>-1.<arch>.rpm with the executable's symbols, built with
// rpmbuild -bb (--target for another architecture: nothing is compiled, the files are staged).
// Usage: package-rpm.js [--version V] [--out DIR] [--arch A]
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { describe, contentsFor } = require('./packaging/describe');
const { inStage, stage, tool, run } = require('./packaging/backend');

/** Each type's %files marker (describe.js's Entry): a symlink is listed as a file is. */
const marker = {
  '': '',
  config: '%config ',
  'config|noreplace': '%config(noreplace) ',
  doc: '%doc ',
  license: '%license ',
  dir: '%dir ',
  symlink: '',
};

/** The %files line of an entry: its type's marker, its mode and owner, its path. */
function filesLine(e) {
  if (!(e.type in marker)) throw new Error(`${e.dst}: unknown type ${JSON.stringify(e.type)} in the description`);
  return `${marker[e.type]}%attr(${e.mode.toString(8).padStart(4, '0')},${e.owner},${e.group}) ${e.dst}`;
}

function buildRpm({ version, outDir, arch }) {
  const desc = describe({ version, arch });
  const { id, rpm, debug } = desc;
  const files = contentsFor(desc.contents, 'rpm');
  const debugFiles = contentsFor(debug.contents, 'rpm');
  const rpmName = (pkg) => `${pkg}-${id.version}-1.${id.arch.rpm}.rpm`;
  const main = inStage(outDir, 'rpm', (top) => {
    // Both packages' files in one tree, which %install copies; each %files section takes its own.
    const root = join(top, 'stage');
    stage([...files, ...debugFiles], root, id.epoch, { owners: true });
    const s = rpm.scripts;
    const day = new Date(id.epoch * 1000).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+).*$/, '$1 $3 $2 $4');
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
License:        ${rpm.license}
${id.homepage ? `URL:            ${id.homepage}\n` : ''}Group:          ${rpm.group}
Packager:       ${id.maintainer}
Requires(pre):  ${rpm.requiresPre.join(', ')}
Requires:       ${rpm.requires.join(', ')}

%description
${desc.description
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
cp -a ${root}/. %{buildroot}/

%pre
${s.pre}

%post
${s.post}

%preun
${s.preun}

%postun
${s.postun}

%files
${files.map(filesLine).join('\n')}

%files debuginfo
${debugFiles.map(filesLine).join('\n')}

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
