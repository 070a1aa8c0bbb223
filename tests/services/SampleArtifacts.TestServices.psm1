#Requires -Version 7.2
<#
    Pre-built releases of the sample backend (runbook Step 4 Option C artifacts), so a suite pays for one npm ci and one
    tsc instead of a full build per deployment: a v1.2.3 checkout built once (the "base"), then each tag as a .tar.gz of
    its sources, the base's dist with the files the tag changed transpiled again (TypeScript's own emit, without a type
    check per tag), and the production node_modules (so a deployment of it skips npm ci).
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:Builder = @'
set -eu
origin=$1; out=$2; shift 2
base=$out/base
git clone -q "$origin" "$base"
git -C "$base" -c advice.detachedHead=false checkout -q v1.2.3
(cd "$base" && npm ci --include=dev --no-audit --no-fund --prefer-offline >/dev/null && npx --no-install tsc)
touch "$out/base.done"
mkdir "$out/prod"; cp "$base/package.json" "$base/package-lock.json" "$out/prod/"; cp -a "$base/node_modules" "$out/prod/"
(cd "$out/prod" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
cat > "$out/transpile.js" <<'JS'
const [tsPath, stage, ...files] = process.argv.slice(2);
const ts = require(tsPath), fs = require('fs'), path = require('path');
const config = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(stage, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, stage).options;
for (const file of files) {
  const out = ts.transpileModule(fs.readFileSync(path.join(stage, file), 'utf8'), { compilerOptions: config, fileName: file });
  fs.writeFileSync(path.join(config.outDir, path.relative(config.rootDir, path.join(stage, file)).replace(/\.ts$/, '.js')), out.outputText);
}
JS
for tag in "$@"; do
  stage="$out/stage-$tag"; mkdir "$stage"
  git -C "$base" archive "$tag" | tar -x -C "$stage"
  cp -r "$base/dist" "$stage/dist"; cp -a "$out/prod/node_modules" "$stage/"
  node "$out/transpile.js" "$base/node_modules/typescript" "$stage" $(git -C "$base" diff --name-only v1.2.3 "$tag" -- 'src/*.ts')
  tar -czf "$out/$tag.tar.gz" -C "$stage" .; rm -rf "$stage"
done
rm -rf "$out/prod"
touch "$out/artifacts.done"
'@

function Wait-BuildMarker($Build, [string] $Marker, [string] $What, [int] $TimeoutSec) {
    # The builder exits right after its last marker: a marker or the exit ends the wait, then the marker decides.
    Wait-YvCondition -Condition { (Test-Path -LiteralPath $Marker) -or $Build.Process.HasExited } -TimeoutSec $TimeoutSec -IntervalMs 200 `
        -What $What -LogFile (Join-Path $Build.Directory 'artifacts.err')
    if (-not (Test-Path -LiteralPath $Marker)) {
        throw "$What`: the build exited with code $($Build.Process.ExitCode).`n$(Get-Content -LiteralPath (Join-Path $Build.Directory 'artifacts.err') -Tail 20 -ErrorAction Ignore | Out-String)"
    }
}

function Start-TestSampleArtifacts {
    <#
    .SYNOPSIS Starts building the base checkout and the artifacts of -Tags in the background (into -Directory).
    .OUTPUTS A build object for Wait-TestSampleBase and Wait-TestSampleArtifacts.
    #>
    param([Parameter(Mandatory)] [string] $Origin, [Parameter(Mandatory)] [string] $Directory, [Parameter(Mandatory)] [string[]] $Tags)
    $script = Join-Path $Directory 'build-artifacts.sh'
    Set-Content -LiteralPath $script -Value $script:Builder
    $process = Start-YvBackgroundProcess -FilePath /bin/bash -ArgumentList (@($script, $Origin, $Directory) + $Tags) `
        -LogFile (Join-Path $Directory 'artifacts.out') -ErrorLogFile (Join-Path $Directory 'artifacts.err') -WorkingDirectory $Directory
    [pscustomobject]@{ Directory = $Directory; Tags = $Tags; Process = $process; Base = Join-Path $Directory 'base' }
}

function Wait-TestSampleBase {
    <# .SYNOPSIS Waits until the v1.2.3 base checkout is built (npm ci + tsc); returns its path. #>
    param([Parameter(Mandatory)] $Build, [int] $TimeoutSec = 300)
    $done = Join-Path $Build.Directory 'base.done'
    Wait-BuildMarker $Build $done 'the v1.2.3 checkout (npm ci + tsc)' $TimeoutSec
    $Build.Base
}

function Wait-TestSampleArtifacts {
    <# .SYNOPSIS Waits for the artifacts; returns tag -> @{ Artifact; Sha256 }. #>
    param([Parameter(Mandatory)] $Build, [int] $TimeoutSec = 300)
    $done = Join-Path $Build.Directory 'artifacts.done'
    Wait-BuildMarker $Build $done "the artifacts of $($Build.Tags -join ', ')" $TimeoutSec
    $artifacts = @{}
    foreach ($tag in $Build.Tags) {
        $file = Join-Path $Build.Directory "$tag.tar.gz"
        $artifacts[$tag] = @{ Artifact = $file; Sha256 = (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash.ToLowerInvariant() }
    }
    $artifacts
}

Export-ModuleMember -Function Start-TestSampleArtifacts, Wait-TestSampleBase, Wait-TestSampleArtifacts
