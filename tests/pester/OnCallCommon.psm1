# Shared by the on-call suites (OnCall.Tests.ps1, OnCall.Terminal.Tests.ps1, Confirm.Tests.ps1): a sample origin with
# one more tag, v1.3.6-errors (v1.3.0 whose settlement reconciler logs an ERROR line every half second once the file
# reconciler.fail exists next to its log: healthy, ready and verified, it fails only a watch after the deployment),
# pre-built artifacts of the tags, and PM2 workspaces on this machine running v1.2.3 (as Faults.Tests.ps1 builds them).
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1')
Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1')
Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1')

$script:AddErrorsTag = @'
set -eu
origin=$1; work=$2
git clone -q "$origin" "$work"
cd "$work"
git -c advice.detachedHead=false checkout -q v1.3.0
FILE=src/index.ts node -e '
  const fs = require("fs"); const f = process.env.FILE; const t = fs.readFileSync(f, "utf8");
  const anchor = "  registerSecrets(logger);\n";
  if (t.split(anchor).length !== 2) { console.error("anchor not found once in " + f); process.exit(1); }
  fs.writeFileSync(f, t.replace(anchor, () => anchor +
    "  const armed = path.join(path.dirname(logFileFrom(process.env)), \"reconciler.fail\");\n" +
    "  setInterval(() => { if (fs.existsSync(armed)) logger.error(\"settlement reconciler: ledger cursor lost, retrying\"); }, 500).unref();\n"));
'
node -e '
  const fs = require("fs");
  for (const f of ["package.json", "package-lock.json"]) {
    const j = JSON.parse(fs.readFileSync(f, "utf8")); j.version = "1.3.6-errors";
    if (j.packages && j.packages[""]) j.packages[""].version = "1.3.6-errors";
    fs.writeFileSync(f, JSON.stringify(j, null, 2) + "\n");
  }
'
git add -A
GIT_AUTHOR_DATE=2026-05-02T10:00:00Z GIT_COMMITTER_DATE=2026-05-02T10:00:00Z git -c user.name=Test -c user.email=test@example.invalid -c commit.gpgsign=false commit -q -m "feat: settlement reconciler (v1.3.6-errors)"
GIT_COMMITTER_DATE=2026-05-02T10:00:00Z git -c user.name=Test -c user.email=test@example.invalid -c tag.gpgsign=false tag -a v1.3.6-errors -m "Release v1.3.6-errors"
git push -q origin refs/tags/v1.3.6-errors
'@

function New-OnCallStack {
    <#
    .SYNOPSIS A root directory with the sample origin (plus v1.3.6-errors), PostgreSQL, the RPC stand-in, the v1.2.3
              base checkout (migrated) and the artifacts of -Tags being built in the background (Wait-OnCallArtifacts).
    #>
    param([string[]] $Tags = @('v1.2.3', 'v1.3.0', 'v1.3.6-errors'), [string] $Name = 'oncall')
    $root = Join-Path ([IO.Path]::GetTempPath()) ("yv-$Name-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($root)
    [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
    $stack = [pscustomobject]@{ Root = $root; Origin = $null; Postgres = $null; Rpc = $null; Build = $null; Base = $null; Artifacts = $null; Workspaces = [Collections.Generic.List[object]]::new() }
    try {
        $stack.Origin = New-TestSampleOrigin -Directory $root
        $script = Join-Path $root 'add-errors-tag.sh'
        Set-Content -LiteralPath $script -Value $script:AddErrorsTag
        & bash $script $stack.Origin (Join-Path $root 'tag-work') 2>&1 | Write-Verbose
        if ($LASTEXITCODE -ne 0) { throw "Adding the tag v1.3.6-errors to $($stack.Origin) failed ($LASTEXITCODE)." }
        $stack.Build = Start-TestSampleArtifacts -Origin $stack.Origin -Directory $root -Tags $Tags
        $stack.Postgres = Start-TestPostgres
        $stack.Rpc = Start-TestStellarRpc
        $stack.Base = Wait-TestSampleBase $stack.Build
        [void](Invoke-TestSampleMigration -Path $stack.Base -DatabaseUrl $stack.Postgres.DatabaseUrl)
        $stack
    }
    catch {
        Stop-OnCallStack $stack
        throw
    }
}

function Wait-OnCallArtifacts {
    <# .SYNOPSIS tag -> @{ Artifact; Sha256 } once the background build is done. #>
    param([Parameter(Mandatory)] $Stack)
    if (-not $Stack.Artifacts) { $Stack.Artifacts = Wait-TestSampleArtifacts $Stack.Build }
    $Stack.Artifacts
}

function New-OnCallWorkspace {
    <#
    .SYNOPSIS A PM2 workspace (as root) with v1.2.3 at <dir>/app (its origin: a copy of the stack's origin), its .env,
              and the backend started under PM2; returns Directory, Pm2Ws, Pm2Home, App, Port, State, Lock, LogDir, Target (parameters).
    #>
    param([Parameter(Mandatory)] $Stack, [string] $Name = 'ws', [string] $TargetName = 'oncall-1', [switch] $NoStart)
    $ws = New-TestPm2Workspace -User root
    $dir = Join-Path $ws.Directory $Name
    New-Item -ItemType Directory -Path $dir | Out-Null
    $app = Join-Path $dir 'app'
    & cp -a -- $Stack.Base $app
    & cp -a -- $Stack.Origin (Join-Path $dir 'origin.git')
    & git -C $app remote set-url origin (Join-Path $dir 'origin.git')
    & git -C $app fetch -q --tags origin
    $port = Get-FreeTcpPort
    @("PORT=$port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Stack.Rpc.Url)", "DATABASE_URL=$($Stack.Postgres.DatabaseUrl)",
        'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "LOG_FILE=$dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') |
        Set-Content -LiteralPath (Join-Path $app '.env')
    & chmod 600 (Join-Path $app '.env')
    $params = @{
        Name = $TargetName; Port = $port; AppPath = $app; ServiceManager = 'Pm2'; Pm2Home = $ws.Pm2Home; MigrationPreset = 'None'
        LogPath = "$dir/logs/backend.log"; BackupPath = "$dir/backups"; StatePath = "$dir/state"
    }
    $w = [pscustomobject]@{
        Directory = $dir; Root = $ws.Directory; Pm2Ws = $ws; Pm2Home = $ws.Pm2Home; App = $app; Port = $port; LogDir = "$dir/logs"
        State = "$dir/state/yieldvault-backend"; Lock = "$dir/state/yieldvault-backend/deploy.lock"; Journal = "$dir/state/yieldvault-backend/journal"
        Params = $params
    }
    $Stack.Workspaces.Add($w)
    if (-not $NoStart) { $null = New-VaultTarget @params | Start-VaultBackend -Confirm:$false -TimeoutSec 60 }
    $w
}

function Get-OnCallServed {
    <# .SYNOPSIS What the workspace's backend serves now: Health (0 when nothing answers), Version, Pid (PM2's). #>
    param([Parameter(Mandatory)] $Ws)
    $health = try { [int](Invoke-WebRequest -Uri "http://127.0.0.1:$($Ws.Port)/health" -TimeoutSec 5 -SkipHttpErrorCheck).StatusCode } catch { 0 }
    $version = try { (Invoke-RestMethod -Uri "http://127.0.0.1:$($Ws.Port)/api/v1/version" -TimeoutSec 5).version } catch { $null }
    $procId = (Get-TestPm2List -Workspace $Ws.Pm2Ws | Where-Object name -EQ 'yieldvault-backend').pid
    [pscustomobject]@{ Health = $health; Version = $version; Pid = $procId }
}

function Get-OnCallJournalFiles {
    param([Parameter(Mandatory)] $Ws)
    @(Get-ChildItem -LiteralPath $Ws.Journal -Filter *.jsonl -ErrorAction Ignore | Sort-Object Name | ForEach-Object FullName)
}

function Wait-OnCallCondition {
    <# .SYNOPSIS Polls -Condition every -IntervalMs until it is true or -TimeoutSec passes (then throws -What). #>
    param([Parameter(Mandatory)] [scriptblock] $Condition, [Parameter(Mandatory)] [string] $What, [double] $TimeoutSec = 60, [int] $IntervalMs = 200)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        if (& $Condition) { return }
        if ([DateTime]::UtcNow -ge $deadline) { throw "Not within $TimeoutSec s: $What" }
        Start-Sleep -Milliseconds $IntervalMs
    }
}

function Stop-OnCallStack {
    <# .SYNOPSIS Stops every workspace's PM2, the artifact build, PostgreSQL and the RPC stand-in; removes the directories. #>
    param([AllowNull()] $Stack)
    if ($null -eq $Stack) { return }
    foreach ($w in @($Stack.Workspaces)) {
        try { Stop-TestPm2 -Workspace $w.Pm2Ws -RemoveDirectory | Out-Null } catch { Write-Warning "PM2 of $($w.Directory): $_" }
    }
    if ($Stack.Build -and -not $Stack.Build.Process.HasExited) { try { $Stack.Build.Process.Kill($true) } catch { } }
    if ($Stack.Rpc) { Stop-TestStellarRpc $Stack.Rpc }
    if ($Stack.Postgres) { Stop-TestPostgres $Stack.Postgres }
    Remove-Item -LiteralPath $Stack.Root -Recurse -Force -ErrorAction Ignore
}

Export-ModuleMember -Function New-OnCallStack, Wait-OnCallArtifacts, New-OnCallWorkspace, Get-OnCallServed, Get-OnCallJournalFiles, Wait-OnCallCondition, Stop-OnCallStack
