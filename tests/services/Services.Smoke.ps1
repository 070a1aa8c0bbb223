#!/usr/bin/env pwsh
<#
    Hand-run smoke check of YieldVault.TestServices (not a Pester file):
        ~/.dotnet/tools/pwsh -NoProfile -File tests/services/Services.Smoke.ps1 [-Only sshd,docker,postgres,rpc,stack]
    Starts every service, checks it with the real client, stops it (twice: Stop is idempotent) and checks that
    nothing is left. Exit code 0 = all checks passed; a step whose fixture does not exist yet is reported as SKIP.
#>
[CmdletBinding()]
param(
    # With pwsh -File a list arrives as one string: "sshd,postgres".
    [string[]] $Only = @('sshd', 'docker', 'postgres', 'rpc', 'stack')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$Only = @($Only | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$bad = @($Only | Where-Object { $_ -notin 'sshd', 'docker', 'postgres', 'rpc', 'stack' })
if ($bad) { throw "-Only accepts sshd, docker, postgres, rpc, stack; not: $($bad -join ', ')" }
$ProgressPreference = 'SilentlyContinue'
Import-Module (Join-Path $PSScriptRoot 'YieldVault.TestServices.psm1') -Force

$results = [System.Collections.Generic.List[object]]::new()
$failed = 0
function Add-Result([string] $Name, [string] $Outcome, [string] $Detail = '') {
    $results.Add([pscustomobject]@{ Check = $Name; Outcome = $Outcome; Detail = $Detail })
    Write-Host ('{0,-5} {1} {2}' -f $Outcome, $Name, $Detail)
    if ($Outcome -eq 'FAIL') { $script:failed++ }
}
function Assert-That([string] $Name, [bool] $Condition, [string] $Detail = '') {
    Add-Result $Name ($(if ($Condition) { 'PASS' } else { 'FAIL' })) $Detail
}
function Invoke-Native([string] $File, [string[]] $Arguments, [hashtable] $Environment = @{}) {
    # Runs a client program; returns exit code and combined output (never throws on a non-zero exit).
    $psi = [System.Diagnostics.ProcessStartInfo]::new($File)
    foreach ($a in $Arguments) { $psi.ArgumentList.Add($a) }
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $outTask = $p.StandardOutput.ReadToEndAsync(); $errTask = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit(60000)) { $p.Kill($true); throw "$File did not finish within 60 s" }
    $p.WaitForExit()
    [pscustomobject]@{ ExitCode = $p.ExitCode; Output = ($outTask.Result + $errTask.Result).Trim(); Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2) }
}
function Test-Gone([string] $Name, $Object) {
    $procId = [int]$Object.Pid
    $alive = $false
    if ($procId -gt 0 -and (Test-Path "/proc/$procId/stat")) {
        $stat = Get-Content "/proc/$procId/stat" -Raw
        $alive = $stat.Substring($stat.LastIndexOf(')') + 2, 1) -notin 'Z', 'X'
    }
    $dirLeft = $Object.PSObject.Properties['Directory'] -and $Object.Directory -and (Test-Path -LiteralPath $Object.Directory)
    Assert-That "$Name stopped, directory removed" (-not $alive -and -not $dirLeft) "pid $procId alive=$alive dirLeft=$dirLeft"
}

$timings = [ordered]@{}

# ---------------------------------------------------------------- sshd
if ('sshd' -in $Only) {
    $s = $null
    try {
        $s = Start-TestSshd
        $timings['Start-TestSshd'] = $s.StartSeconds
        $common = @('-p', [string]$s.Port, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', '-o', "UserKnownHostsFile=$($s.KnownHostsFile)")
        $r = Invoke-Native ssh (@('-i', $s.UserKeyFile, '-o', 'IdentitiesOnly=yes') + $common + @("$($s.User)@127.0.0.1", 'echo "ok $(id -un)"'))
        Assert-That 'ssh ed25519 key + KnownHostsFile' ($r.ExitCode -eq 0 -and $r.Output -match "ok $($s.User)") "rc=$($r.ExitCode) $($r.Seconds)s out='$($r.Output)'"
        $r = Invoke-Native ssh (@('-i', $s.UserRsaKeyFile, '-o', 'IdentitiesOnly=yes') + $common + @("$($s.User)@127.0.0.1", 'true'))
        Assert-That 'ssh RSA PEM key' ($r.ExitCode -eq 0) "rc=$($r.ExitCode) $($r.Seconds)s"
        Assert-That 'UserRsaKeyFile is PEM' ((Get-Content $s.UserRsaKeyFile -TotalCount 1) -eq '-----BEGIN RSA PRIVATE KEY-----')
        $wrong = @('-p', [string]$s.Port, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', "UserKnownHostsFile=$($s.WrongKnownHostsFile)")
        $r = Invoke-Native ssh (@('-i', $s.UserKeyFile, '-o', 'IdentitiesOnly=yes') + $wrong + @("$($s.User)@127.0.0.1", 'true'))
        Assert-That 'ssh with WrongKnownHostsFile fails' ($r.ExitCode -ne 0 -and $r.Output -match 'HOST IDENTIFICATION HAS CHANGED') "rc=$($r.ExitCode)"
        $fp = (Invoke-Native ssh-keyscan @('-p', [string]$s.Port, '-t', 'ed25519', '127.0.0.1')).Output -split "`n" | Where-Object { $_ -match 'ssh-ed25519' }
        $tmpKey = [System.IO.Path]::GetTempFileName(); Set-Content $tmpKey $fp
        $scanned = ((Invoke-Native ssh-keygen @('-lf', $tmpKey)).Output -split '\s+')[1]; Remove-Item $tmpKey
        Assert-That 'HostKeyFingerprint = ssh-keyscan fingerprint' ($scanned -eq $s.HostKeyFingerprint) "$($s.HostKeyFingerprint)"

        # Password auth: sshpass if installed; otherwise OpenSSH's own SSH_ASKPASS_REQUIRE=force (OpenSSH >= 8.4).
        $pw = $s.Credential.GetNetworkCredential().Password
        $pwOpts = @('-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1') + $common[0..1] + @('-o', 'StrictHostKeyChecking=yes', '-o', "UserKnownHostsFile=$($s.KnownHostsFile)")
        $askDir = New-Item -ItemType Directory -Path (Join-Path ([System.IO.Path]::GetTempPath()) ("yv-askpass-" + [guid]::NewGuid().ToString('N').Substring(0, 10)))
        try {
            $ask = Join-Path $askDir 'askpass.sh'
            Set-Content -LiteralPath $ask -Value "#!/bin/sh`nprintf '%s\n' `"`$YV_PW`"`n"
            [System.IO.File]::SetUnixFileMode($ask, 'UserRead, UserWrite, UserExecute')
            foreach ($case in @(@{ Pw = $pw; Expect = 0; Name = 'right' }, @{ Pw = 'not-the-password'; Expect = 255; Name = 'wrong' })) {
                $envTable = @{ SSH_ASKPASS = $ask; SSH_ASKPASS_REQUIRE = 'force'; DISPLAY = 'none'; YV_PW = $case.Pw }
                $r = Invoke-Native ssh ($pwOpts + @("$($s.User)@127.0.0.1", 'true')) $envTable
                Assert-That "ssh password auth ($($case.Name) password, via SSH_ASKPASS)" ($r.ExitCode -eq $case.Expect) "rc=$($r.ExitCode) $($r.Seconds)s"
            }
        } finally { Remove-Item -LiteralPath $askDir -Recurse -Force }
        if (Get-Command sshpass -ErrorAction SilentlyContinue) {
            $r = Invoke-Native sshpass (@('-e', 'ssh') + $pwOpts + @("$($s.User)@127.0.0.1", 'true')) @{ SSHPASS = $pw }
            Assert-That 'ssh password auth via sshpass' ($r.ExitCode -eq 0) "rc=$($r.ExitCode)"
        } else {
            Add-Result 'ssh password auth via sshpass' 'SKIP' 'sshpass is not installed (apt-get install -y sshpass); the SSH_ASKPASS checks above cover password auth'
        }
        # SFTP subsystem
        $r = Invoke-Native sftp (@('-i', $s.UserKeyFile, '-b', '-', '-P', [string]$s.Port, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', "UserKnownHostsFile=$($s.KnownHostsFile)", "$($s.User)@127.0.0.1"))
        Assert-That 'sftp subsystem (batch, empty)' ($r.ExitCode -eq 0) "rc=$($r.ExitCode) $($r.Output)"
    } catch {
        Add-Result 'sshd' 'FAIL' "$_"
    } finally {
        if ($s) { Stop-TestSshd $s; Stop-TestSshd $s; Test-Gone 'sshd' $s }
    }
}

# ---------------------------------------------------------------- docker
if ('docker' -in $Only) {
    $d = $null
    $tag = 'yv-test-busybox:smoke-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    try {
        $d = Start-TestDockerd
        $timings['Start-TestDockerd'] = $d.StartSeconds
        Add-Result 'dockerd' 'INFO' "StartedByUs=$($d.StartedByUs) Pid=$($d.Pid) Socket=$($d.Socket) in $($d.StartSeconds)s"
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $img = New-TestBusyboxImage -Tag $tag
        $timings['New-TestBusyboxImage (build)'] = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        $sw.Restart()
        $img2 = New-TestBusyboxImage -Tag $tag
        $timings['New-TestBusyboxImage (cached)'] = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        Assert-That 'busybox image built, then cached' (-not $img.Cached -and $img2.Cached -and $img.Id -eq $img2.Id) "$($img.Id)"
        $r = Invoke-Native docker @('run', '--rm', $tag, 'echo', 'hello-from-busybox')
        Assert-That 'docker run --rm busybox echo' ($r.ExitCode -eq 0 -and $r.Output -eq 'hello-from-busybox') "rc=$($r.ExitCode) $($r.Seconds)s out='$($r.Output)'"
        [void](Invoke-Native docker @('rmi', '-f', $tag))
    } catch {
        Add-Result 'docker' 'FAIL' "$_"
    } finally {
        if ($d) {
            Stop-TestDockerd $d; Stop-TestDockerd $d
            if ($d.StartedByUs) {
                Assert-That 'dockerd stopped (we started it)' (-not (Test-Path "/proc/$($d.Pid)") -and -not (Test-Path '/var/run/docker.sock')) "pid $($d.Pid)"
                $left = @(Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | ForEach-Object { try { $st = Get-Content "$($_.FullName)/stat" -Raw -ErrorAction Stop; if ($st.Substring($st.LastIndexOf(')') + 2, 1) -ne 'Z') { Get-Content "$($_.FullName)/comm" -ErrorAction Stop } } catch { $null } } | Where-Object { $_ -in 'dockerd', 'containerd', 'containerd-shim', 'containerd-shim-runc-v2' })
                Assert-That 'no dockerd/containerd left' ($left.Count -eq 0) ($left -join ',')
            } else {
                Add-Result 'dockerd left running' 'INFO' 'it was already running, so Stop-TestDockerd left it alone'
            }
        }
    }
}

# ---------------------------------------------------------------- postgres
if ('postgres' -in $Only) {
    $pg = $null
    try {
        $pg = Start-TestPostgres
        $timings['Start-TestPostgres'] = $pg.StartSeconds
        $psql = @('-X', '-At', '-h', '127.0.0.1', '-p', [string]$pg.Port, '-U', $pg.User, '-d', $pg.Database, '-c', 'select current_user, current_database()')
        $r = Invoke-Native psql $psql @{ PGPASSWORD = $pg.Password }
        Assert-That 'psql with password over TCP' ($r.ExitCode -eq 0 -and $r.Output -eq 'yv|yieldvault') "rc=$($r.ExitCode) out='$($r.Output)'"
        $r = Invoke-Native psql @('-X', '-At', $pg.DatabaseUrl, '-c', 'select 1')
        Assert-That 'psql with DatabaseUrl' ($r.ExitCode -eq 0 -and $r.Output -eq '1') "rc=$($r.ExitCode)"
        $r = Invoke-Native psql @('-X', '-At', '-h', '127.0.0.1', '-p', [string]$pg.Port, '-U', $pg.User, '-d', $pg.Database, '-c', 'select 1') @{ PGPASSWORD = 'wrong-password' }
        Assert-That 'psql with wrong password fails' ($r.ExitCode -ne 0 -and $r.Output -match 'password authentication failed') "rc=$($r.ExitCode)"
        $r = Invoke-Native psql @('-X', '-At', '-h', $pg.SocketDirectory, '-p', [string]$pg.Port, '-U', 'postgres', '-d', 'postgres', '-c', 'select rolpassword like ''SCRAM-SHA-256$%'' from pg_authid where rolname = ''yv''')
        Assert-That 'role yv has a SCRAM password' ($r.Output -eq 't') "out='$($r.Output)'"
    } catch {
        Add-Result 'postgres' 'FAIL' "$_"
    } finally {
        if ($pg) { Stop-TestPostgres $pg; Stop-TestPostgres $pg; Test-Gone 'postgres' $pg }
    }
}

# ---------------------------------------------------------------- stellar rpc stand-in
if ('rpc' -in $Only) {
    if (-not (Test-Path (Join-Path $PSScriptRoot 'stellar-rpc-standin.js'))) {
        Add-Result 'stellar rpc stand-in' 'SKIP' 'tests/services/stellar-rpc-standin.js does not exist yet'
    } else {
        $rpc = $null
        try {
            $rpc = Start-TestStellarRpc
            $timings['Start-TestStellarRpc'] = $rpc.StartSeconds
            $body = '{"jsonrpc":"2.0","id":1,"method":"getHealth"}'
            $h = Invoke-RestMethod -Method Post -Uri $rpc.Url -ContentType 'application/json' -Body $body -TimeoutSec 5
            Assert-That 'getHealth = healthy' ($h.result.status -eq 'healthy') ($h | ConvertTo-Json -Compress -Depth 5)
            [void](Set-TestStellarRpcMode -Rpc $rpc -Mode down)
            $resp = Invoke-WebRequest -Method Post -Uri $rpc.Url -ContentType 'application/json' -Body $body -TimeoutSec 5 -SkipHttpErrorCheck
            Assert-That 'mode down -> HTTP 503' ($resp.StatusCode -eq 503) "status=$($resp.StatusCode)"
            [void](Set-TestStellarRpcMode -Rpc $rpc -Mode slow -DelayMs 1500)
            $sw = [System.Diagnostics.Stopwatch]::StartNew()
            $h = Invoke-RestMethod -Method Post -Uri $rpc.Url -ContentType 'application/json' -Body $body -TimeoutSec 10
            Assert-That 'mode slow -> answers late' ($sw.Elapsed.TotalSeconds -ge 1.4 -and $h.result.status -eq 'healthy') "$([math]::Round($sw.Elapsed.TotalSeconds, 2))s"
            [void](Set-TestStellarRpcMode -Rpc $rpc -Mode up)
            $h = Invoke-RestMethod -Method Post -Uri $rpc.Url -ContentType 'application/json' -Body $body -TimeoutSec 5
            Assert-That 'mode up -> healthy again' ($h.result.status -eq 'healthy')
        } catch {
            Add-Result 'stellar rpc' 'FAIL' "$_"
        } finally {
            if ($rpc) { Stop-TestStellarRpc $rpc; Stop-TestStellarRpc $rpc; Test-Gone 'stellar rpc' $rpc }
        }
    }
}

# ---------------------------------------------------------------- backend stack
if ('stack' -in $Only) {
    $root = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
    $missing = @('tests/fixtures/new-sample-origin.sh', 'tests/fixtures/sample-backend/package.json', 'tests/services/stellar-rpc-standin.js') | Where-Object { -not (Test-Path (Join-Path $root $_)) }
    if ($missing) {
        Add-Result 'backend stack' 'SKIP' "fixture not there yet: $($missing -join ', ')"
    } else {
        $stack = $null
        try {
            $stack = Start-TestBackendStack
            $timings['Start-TestBackendStack'] = $stack.StartSeconds
            foreach ($k in $stack.Timings.Keys) { $timings["  stack: $k"] = $stack.Timings[$k] }
            $h = Invoke-RestMethod -Uri $stack.HealthUrl -TimeoutSec 5
            Assert-That 'backend /health = healthy' ($h.status -eq 'healthy') ($h | ConvertTo-Json -Compress -Depth 5)
            $mode = [Convert]::ToString(([int][System.IO.File]::GetUnixFileMode($stack.Backend.EnvFile)), 8)
            Assert-That '.env mode 600' ($mode -eq '600') $mode
            [void](Set-TestStellarRpcMode -Rpc $stack.Rpc -Mode down)
            Start-Sleep -Milliseconds 400   # the backend caches its dependency checks for 250 ms
            $r = Invoke-WebRequest -Uri $stack.HealthUrl -TimeoutSec 10 -SkipHttpErrorCheck
            $down = $r.Content | ConvertFrom-Json
            Assert-That 'backend sees the RPC stand-in down' ($down.checks.stellarRpc -eq 'down') "HTTP $($r.StatusCode) $($r.Content)"
            [void](Set-TestStellarRpcMode -Rpc $stack.Rpc -Mode up)
            Start-Sleep -Milliseconds 400
            $h = Invoke-RestMethod -Uri $stack.HealthUrl -TimeoutSec 5
            Assert-That 'backend healthy again with RPC up' ($h.status -eq 'healthy')
        } catch {
            Add-Result 'backend stack' 'FAIL' "$_"
        } finally {
            if ($stack) {
                Stop-TestBackendStack $stack; Stop-TestBackendStack $stack
                foreach ($part in 'Backend', 'Rpc', 'Postgres') { if ($stack.$part) { Test-Gone "stack $part" $stack.$part } }
                Assert-That 'stack directory removed' (-not (Test-Path $stack.Directory)) $stack.Directory
            }
        }
    }
}

Stop-AllTestServices
Write-Host "`nStart timings (s):"
$timings.GetEnumerator() | ForEach-Object { Write-Host ('  {0,-32} {1,6}' -f $_.Key, $_.Value) }
$leftDirs = @(Get-ChildItem -Path ([System.IO.Path]::GetTempPath()), '/tmp' -Directory -Filter 'yv-*' -ErrorAction SilentlyContinue |
        Where-Object { $_.Name -notin 'yv-sshd-users' } | Select-Object -ExpandProperty FullName -Unique)
Write-Host "Leftover yv-* directories in temp: $(if ($leftDirs) { $leftDirs -join ', ' } else { 'none' })"
Write-Host "`n$($results.Where({ $_.Outcome -eq 'PASS' }).Count) passed, $failed failed, $($results.Where({ $_.Outcome -eq 'SKIP' }).Count) skipped"
exit ([int]($failed -gt 0))
