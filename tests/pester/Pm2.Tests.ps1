# Pm2ServiceManager end to end against the real PM2 7 and the sample backend (PostgreSQL, RPC stand-in, a checkout
# of v1.2.3). One PM2 daemon runs as the SSH test user yvops in a PM2_HOME of this suite (never ~/.pm2); it is
# driven over SSH (SshShell as yvops) and read locally too (LocalShell as root, same PM2_HOME). The cmdlets are
# being written, so Core is used directly through the module's types.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:None = [Threading.CancellationToken]::None
    # Core lives in the module's AssemblyLoadContext: reach its types through an object it made.
    $script:Core = (New-VaultTarget -Name probe).GetType().Assembly
    $script:Pm2Type = $Core.GetType('YieldVault.Ops.Services.Pm2ServiceManager', $true)
    $script:CommandLineType = $Core.GetType('YieldVault.Ops.Hosts.CommandLine', $true)

    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Sshd = Start-TestSshd
    $script:Ws = New-TestPm2Workspace -User $Sshd.User
    $script:Origin = New-TestSampleOrigin
    $script:App = New-TestSampleCheckout -Origin $Origin -Ref v1.2.3 -Path (Join-Path $Ws.Directory 'app')
    [void](Invoke-TestSampleMigration -Path $App -DatabaseUrl $Postgres.DatabaseUrl)
    $script:Port = Get-FreeTcpPort
    $script:Empty = Join-Path $Ws.Directory 'empty'   # a cwd without .env: the backend exits 1 there
    [void][IO.Directory]::CreateDirectory($Empty)
    [void][IO.Directory]::CreateDirectory((Join-Path $Ws.Directory 'logs'))
    $envLines = @(
        "PORT=$Port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
        'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC',
        "LOG_FILE=$($Ws.Directory)/logs/backend.log", 'SHUTDOWN_DRAIN_MS=500')
    Set-Content -LiteralPath (Join-Path $App '.env') -Value ($envLines -join "`n")
    & chmod 600 (Join-Path $App '.env')
    & chown -R "$($Ws.User):" $Ws.Directory

    $script:AppName = 'yv-pm2-backend'
    function New-Pm2Target([string] $Name = $AppName, [switch] $Ssh, [string] $AppPath = $App, [int] $AppPort = $Port) {
        $p = @{ Name = 'pm2-1'; ServiceManager = 'Pm2'; ServiceName = $Name; AppPath = $AppPath; Port = $AppPort; Pm2Home = $Ws.Pm2Home }
        if ($Ssh) {
            $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; ConnectTimeoutSec = 5 }
        }
        New-VaultTarget @p
    }
    $script:LocalShell = $Core.GetType('YieldVault.Ops.Hosts.LocalShell', $true)::new()
    $script:SshShell = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new((New-Pm2Target -Ssh).Ssh)

    function Get-Pm2Manager([string] $Name = $AppName, [switch] $Ssh, [string] $AppPath = $App, [int] $AppPort = $Port) {
        $shell = if ($Ssh) { $SshShell } else { $LocalShell }
        $Pm2Type::new((New-Pm2Target -Name $Name -Ssh:$Ssh -AppPath $AppPath -AppPort $AppPort), $shell)
    }
    function Get-Pm2State([string] $Name = $AppName, [switch] $Ssh) {
        (Get-Pm2Manager -Name $Name -Ssh:$Ssh).GetStateAsync($None).GetAwaiter().GetResult()
    }
    function Wait-Pm2State([string] $Name, [string[]] $Status, [switch] $Ssh, [double] $TimeoutSec = 20) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        for ($i = 0; $i -lt 200; $i++) {
            $s = Get-Pm2State -Name $Name -Ssh:$Ssh
            if ([string]$s.Status -in $Status) { return $s }
            if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
            Start-Sleep -Milliseconds 250
        }
        throw "$Name did not reach $($Status -join '/') within $TimeoutSec s (last: $($s.Status) $($s.Detail), restarts $($s.Restarts))."
    }
    function Test-Healthy([int] $On = $Port) {
        try { (Invoke-WebRequest -Uri "http://127.0.0.1:$On/health" -TimeoutSec 2 -SkipHttpErrorCheck).StatusCode -eq 200 } catch { $false }
    }
    function Wait-Healthy([int] $On = $Port, [double] $TimeoutSec = 20) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        for ($i = 0; $i -lt 400; $i++) {
            if (Test-Healthy $On) { return }
            if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
            Start-Sleep -Milliseconds 100
        }
        throw "The backend on port $On did not answer /health 200 within $TimeoutSec s."
    }
    function Test-PortOpen([int] $On) {
        $c = [Net.Sockets.TcpClient]::new()
        try { $c.ConnectAsync('127.0.0.1', $On).Wait(500) -and $c.Connected } catch { $false } finally { $c.Dispose() }
    }
    function Test-Alive([int] $ProcessId) {
        try { $stat = [IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { return $false }
        $stat.Substring($stat.LastIndexOf(')') + 2, 1) -notin 'Z', 'X'
    }
    function Get-Owner([int] $ProcessId) { (& stat -c %U "/proc/$ProcessId").Trim() }
    function Invoke-Pm2OverSsh([string[]] $Arguments) {
        # The pm2 CLI as yvops over the suite's SSH connection, with the suite's PM2_HOME.
        $cl = $CommandLineType::Script('PM2_HOME=$1; export PM2_HOME; shift; exec pm2 "$@"', [string[]](@($Ws.Pm2Home) + $Arguments))
        $r = $SshShell.RunAsync($cl, [TimeSpan]::FromSeconds(30), $None).GetAwaiter().GetResult()
        if ($r.ExitCode -ne 0) { throw "pm2 $($Arguments -join ' ') over SSH failed ($($r.ExitCode)): $($r.StandardError)" }
    }
    function Get-ErrorId([scriptblock] $Action) {
        try { & $Action; return $null } catch {
            $e = $_.Exception
            while ($e -and -not $e.PSObject.Properties['ErrorId']) { $e = $e.InnerException }
            return $e.ErrorId
        }
    }
}

AfterAll {
    $left = Stop-TestPm2 -Workspace $Ws -RemoveDirectory
    if ($left) { Write-Warning "Pm2.Tests: killed processes that survived pm2 kill: $($left -join ', ')" }
    if ($script:SshShell) { $SshShell.Dispose() }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Origin) { Remove-TestSampleOrigin $Origin }
    Stop-AllTestServices
}

Describe 'Pm2ServiceManager before PM2 runs' {
    It 'reads NotFound, both locally and over SSH, without spawning a PM2 daemon' {
        foreach ($ssh in $false, $true) {
            $s = Get-Pm2State -Ssh:$ssh
            $s.Status | Should-Be 'NotFound'
            $s.Detail | Should-Be 'PM2 daemon not running'
        }
        @(Get-TestPm2Daemon -Pm2Home $Ws.Pm2Home).Count | Should-Be 0
    }

    It 'starts the app from AppPath (dist/index.js, --time, .env from AppPath) when PM2 does not know it, and saves' {
        (Get-Pm2Manager -Ssh).StartAsync($None).GetAwaiter().GetResult()
        Wait-Healthy
        $entry = @(Get-TestPm2List -Workspace $Ws | Where-Object name -EQ $AppName)
        $entry.Count | Should-Be 1
        $entry[0].pm2_env.pm_cwd | Should-Be $App
        $entry[0].pm2_env.pm_exec_path | Should-Be "$App/dist/index.js"
        $entry[0].pm2_env.time | Should-BeTrue
        Get-Owner $entry[0].pid | Should-Be $Ws.User
        Test-Path -LiteralPath (Join-Path $Ws.Pm2Home 'dump.pm2') | Should-BeTrue
        (Get-Content -Raw -LiteralPath (Join-Path $Ws.Pm2Home 'dump.pm2')) | Should-BeLikeString "*$AppName*"

        # Two apps from the same checkout without the required env (cwd without .env): they exit 1 at start.
        # Started now so that PM2 has looped them by the time the crash tests read them.
        Invoke-Pm2OverSsh @('start', "$App/dist/index.js", '--name', 'yv-pm2-crash', '--cwd', $Empty, '--time')
        Invoke-Pm2OverSsh @('start', "$App/dist/index.js", '--name', 'yv-pm2-crash-delay', '--cwd', $Empty, '--time', '--restart-delay', '1500')
    }
}

Describe 'Pm2ServiceManager reads a running app' {
    It 'over SSH: Running, live pid, no restarts, uptime and usage' {
        $s = Get-Pm2State -Ssh
        $s.Status | Should-Be 'Running'
        $s.Manager | Should-Be 'Pm2'
        $s.ServiceName | Should-Be $AppName
        $s.Detail | Should-Be 'online'
        Test-Alive $s.Pid | Should-BeTrue
        Get-Owner $s.Pid | Should-Be $Ws.User
        $s.Restarts | Should-Be 0
        $s.Uptime.TotalSeconds | Should-BeGreaterThan 0
        $s.Uptime.TotalMinutes | Should-BeLessThan 5
        $s.MemoryBytes | Should-BeGreaterThan 1MB
        $script:RunningPid = $s.Pid
    }

    It 'locally (same PM2_HOME, as root): the same process' {
        $s = Get-Pm2State
        $s.Status | Should-Be 'Running'
        $s.Pid | Should-Be $RunningPid
        $s.Restarts | Should-Be 0
    }

    It 'reads NotFound for a name PM2 does not know' {
        foreach ($ssh in $false, $true) {
            $s = Get-Pm2State -Name 'yv-pm2-no-such-app' -Ssh:$ssh
            $s.Status | Should-Be 'NotFound'
            $s.Detail | Should-Be 'not in the PM2 process list'
            $s.Pid | Should-BeNull
        }
    }

    It 'reads the log lines PM2 kept, with the start-up line and PM2''s time prefix' {
        $lines = @((Get-Pm2Manager -Ssh).ReadLogAsync(50, $null, $None).GetAwaiter().GetResult())
        $started = @($lines | Where-Object { $_ -like "*Server started on port $Port*" })
        $started.Count | Should-Be 1
        $started[0] | Should-MatchString '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}: '
        ($lines | Where-Object { $_ -like '*Database connected*' }) | Should-NotBeNull

        $local = @((Get-Pm2Manager).ReadLogAsync(2, [DateTimeOffset]::UtcNow.AddMinutes(-5), $None).GetAwaiter().GetResult())
        $local.Count | Should-Be 2
        $local[-1] | Should-Be $lines[-1]
        @((Get-Pm2Manager).ReadLogAsync(50, [DateTimeOffset]::UtcNow.AddMinutes(5), $None).GetAwaiter().GetResult()).Count | Should-Be 0
    }
}

Describe 'Pm2ServiceManager reads an app that crashes at start' {
    It 'with PM2''s default restarts: Failed (errored, PM2 gave up) with restarts > 0, locally and over SSH' {
        $s = Wait-Pm2State -Name 'yv-pm2-crash' -Status Failed -Ssh -TimeoutSec 25
        $s.Detail | Should-Be 'errored'
        $s.Restarts | Should-BeGreaterThan 0
        $s.Pid | Should-BeNull
        $l = Get-Pm2State -Name 'yv-pm2-crash'
        $l.Status | Should-Be 'Failed'
        $l.Restarts | Should-Be $s.Restarts
        $log = @((Get-Pm2Manager -Name 'yv-pm2-crash').ReadLogAsync(6, $null, $None).GetAwaiter().GetResult())
        @($log | Where-Object { $_ -like '*ERROR Missing required environment variables: STELLAR_RPC_URL, VAULT_CONTRACT_ID, DATABASE_URL*' }).Count | Should-BeGreaterThan 0
    }

    It 'with a restart delay: CrashLooping with restarts > 0, locally and over SSH' {
        $s = Wait-Pm2State -Name 'yv-pm2-crash-delay' -Status CrashLooping -Ssh
        @('waiting restart', 'online', 'launching', 'stopped') | Should-ContainCollection $s.Detail
        $s = Wait-Pm2State -Name 'yv-pm2-crash-delay' -Status CrashLooping -TimeoutSec 10
        for ($i = 0; $i -lt 20 -and $s.Restarts -lt 1; $i++) { Start-Sleep -Milliseconds 500; $s = Get-Pm2State -Name 'yv-pm2-crash-delay' }
        $s.Status | Should-Be 'CrashLooping'
        $s.Restarts | Should-BeGreaterThan 0
        # The app that runs fine next to them is not affected.
        (Get-Pm2State -Ssh).Status | Should-Be 'Running'
    }
}

Describe 'Pm2ServiceManager changes the app' {
    It 'stops it (StopAsync): Stopped locally and over SSH, process gone, port free' {
        $before = (Get-Pm2State -Ssh).Pid
        (Get-Pm2Manager -Ssh).StopAsync([TimeSpan]::FromSeconds(30), $None).GetAwaiter().GetResult()
        foreach ($ssh in $true, $false) {
            $s = Get-Pm2State -Ssh:$ssh
            $s.Status | Should-Be 'Stopped'
            $s.Detail | Should-Be 'stopped'
            $s.Pid | Should-BeNull
        }
        Test-Alive $before | Should-BeFalse
        Test-PortOpen $Port | Should-BeFalse
    }

    It 'starts the known app again by name (locally), and a second start does not restart it' {
        $m = Get-Pm2Manager
        $m.StartAsync($None).GetAwaiter().GetResult()
        Wait-Healthy
        $s = Get-Pm2State
        $s.Status | Should-Be 'Running'
        $m.StartAsync($None).GetAwaiter().GetResult()
        (Get-Pm2State -Ssh).Pid | Should-Be $s.Pid
        $script:RunningPid = $s.Pid
    }

    It 'restarts it (RestartAsync): a new process and one more restart' {
        $before = Get-Pm2State -Ssh
        (Get-Pm2Manager -Ssh).RestartAsync($None).GetAwaiter().GetResult()
        Wait-Healthy
        $s = Get-Pm2State -Ssh
        $s.Status | Should-Be 'Running'
        $s.Pid | Should-NotBe $before.Pid
        $s.Restarts | Should-Be ($before.Restarts + 1)
        Test-Alive $before.Pid | Should-BeFalse
    }

    It 'kills it (KillAsync): no graceful shutdown, no restart by PM2, Stopped, port free' {
        $before = Get-Pm2State -Ssh
        $logFile = "$($Ws.Directory)/logs/backend.log"
        $lines = @(Get-Content -LiteralPath $logFile).Count
        (Get-Pm2Manager -Ssh).KillAsync($None).GetAwaiter().GetResult()
        Test-Alive $before.Pid | Should-BeFalse
        $s = Get-Pm2State
        $s.Status | Should-Be 'Stopped'
        $s.Pid | Should-BeNull
        $s.Restarts | Should-Be $before.Restarts
        Test-PortOpen $Port | Should-BeFalse
        # The backend logged nothing more: it never saw a signal it could handle, and no new instance started.
        @(Get-Content -LiteralPath $logFile | Select-Object -Skip $lines) | Should-BeCollection @()
    }

    It 'fails with ServiceNotFound to stop, kill or restart an app PM2 does not know' {
        $m = Get-Pm2Manager -Name 'yv-pm2-no-such-app' -Ssh
        Get-ErrorId { $m.StopAsync([TimeSpan]::FromSeconds(5), $None).GetAwaiter().GetResult() } | Should-Be 'ServiceNotFound'
        Get-ErrorId { $m.KillAsync($None).GetAwaiter().GetResult() } | Should-Be 'ServiceNotFound'
        Get-ErrorId { $m.RestartAsync($None).GetAwaiter().GetResult() } | Should-Be 'ServiceNotFound'
    }
}

Describe 'Pm2ServiceManager starts from an ecosystem file' {
    It 'starts only the target''s app of AppPath/ecosystem.config.js' {
        $eco = Join-Path $Ws.Directory 'eco'
        [void][IO.Directory]::CreateDirectory($eco)
        $ecoPort = Get-FreeTcpPort
        @"
module.exports = { apps: [
  { name: 'yv-pm2-eco', script: '$App/dist/index.js', cwd: '$App', time: true, kill_timeout: 3000, env: { PORT: '$ecoPort' } },
  { name: 'yv-pm2-eco-other', script: '$App/dist/index.js', cwd: '$Empty' }
] };
"@ | Set-Content -LiteralPath (Join-Path $eco 'ecosystem.config.js')
        & chown -R "$($Ws.User):" $eco
        (Get-Pm2Manager -Name 'yv-pm2-eco' -Ssh -AppPath $eco -AppPort $ecoPort).StartAsync($None).GetAwaiter().GetResult()
        Wait-Healthy -On $ecoPort
        (Get-Pm2State -Name 'yv-pm2-eco').Status | Should-Be 'Running'
        (Get-Pm2State -Name 'yv-pm2-eco-other' -Ssh).Status | Should-Be 'NotFound'
        (Get-Pm2Manager -Name 'yv-pm2-eco' -Ssh).StopAsync([TimeSpan]::FromSeconds(30), $None).GetAwaiter().GetResult()
        Test-PortOpen $ecoPort | Should-BeFalse
    }
}

Describe 'Pm2ServiceManager without PM2' {
    It 'fails with ServiceManagerNotFound naming npm install -g pm2 when pm2 is not on PATH' {
        $bin = Join-Path $TestDrive 'bin-without-pm2'
        [void][IO.Directory]::CreateDirectory($bin)
        & ln -s /bin/sh (Join-Path $bin 'sh')
        $saved = $env:PATH
        try {
            $env:PATH = $bin
            $m = Get-Pm2Manager
            $err = $null
            try { [void]$m.GetStateAsync($None).GetAwaiter().GetResult() } catch { $err = $_.Exception }
        } finally {
            $env:PATH = $saved
        }
        while ($err -and -not $err.PSObject.Properties['ErrorId']) { $err = $err.InnerException }
        $err.ErrorId | Should-Be 'ServiceManagerNotFound'
        $err.RecommendedAction | Should-BeLikeString '*npm install -g pm2*'
    }
}

Describe 'Pm2 suite cleanup' {
    It 'pm2 kill leaves no PM2 daemon or app process of this suite' {
        $left = @(Stop-TestPm2 -Workspace $Ws)
        $left.Count | Should-Be 0
        @(Get-TestPm2Daemon -Pm2Home $Ws.Pm2Home).Count | Should-Be 0
        @(Get-TestPm2WorkspaceProcess -Workspace $Ws).Count | Should-Be 0
        Test-PortOpen $Port | Should-BeFalse
    }
}
