#Requires -Version 7.2
<#
    nginx (Debian's package) on 127.0.0.1 for the blue-green tests: its own prefix directory, main configuration,
    pid file, logs and temp paths, a server on a free port that proxy_passes to one upstream, and the upstream file
    it includes (YieldVault.Ops rewrites that file on every switch). As root, or as another user (the master then runs
    as that user, so the user can reload it and write the upstream file: the way an SSH target's user is set up).
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')
$script:Started = [System.Collections.Generic.List[object]]::new()

function Start-TestNginx {
    <#
    .SYNOPSIS Starts nginx in the foreground (daemon off) with a config of its own; waits until it answers.
    .PARAMETER InitialPort The port the upstream file points at first (the blue slot; nothing needs to listen there).
    .PARAMETER User Run nginx as this user (its directory is then theirs); default: the current user.
    .OUTPUTS Object with Port, Url, ConfigFile, UpstreamFile, UpstreamName, PidFile, ErrorLog, AccessLog, User, Process, Pid, Directory, StartSeconds.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [ValidateRange(1, 65535)] [int] $InitialPort,
        [string] $UpstreamName = 'yieldvault_backend',
        [ValidatePattern('^[a-z_][a-z0-9_-]{0,30}$')] [string] $User,
        [int] $TimeoutSec = 15
    )
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $nginx = Resolve-YvProgram -Name nginx -Install 'apt-get install -y nginx' -Candidates '/usr/sbin/nginx'
    $dir = New-YvTempDirectory -Service nginx -Mode 'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
    $proc = $null
    try {
        $port = Get-FreeTcpPort
        foreach ($d in 'conf.d', 'logs', 'tmp') { [void][System.IO.Directory]::CreateDirectory((Join-Path $dir $d)) }
        $conf = Join-Path $dir 'nginx.conf'
        $upstream = Join-Path $dir 'conf.d/upstream.conf'
        $pidFile = Join-Path $dir 'nginx.pid'
        $errorLog = Join-Path $dir 'logs/error.log'
        $accessLog = Join-Path $dir 'logs/access.log'
        Set-Content -LiteralPath $upstream -Value "upstream $UpstreamName { server 127.0.0.1:$InitialPort; }"
        Set-Content -LiteralPath $conf -Value @"
worker_processes 1;
pid $pidFile;
error_log $errorLog info;
events { worker_connections 512; }
http {
    access_log $accessLog;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $upstream;
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://$UpstreamName;
            proxy_set_header Host `$host;
            proxy_connect_timeout 2s;
        }
    }
}
"@
        $arguments = @('-e', $errorLog, '-c', $conf, '-g', 'daemon off;')
        if ($User) {
            $runuser = Resolve-YvProgram -Name runuser -Install 'apt-get install -y util-linux' -Candidates '/usr/sbin/runuser', '/sbin/runuser'
            $null = Invoke-YvProcess -FilePath chown -ArgumentList '-R', "$User`:", $dir -TimeoutSec 30
            $null = Invoke-YvProcess -FilePath $runuser -ArgumentList (@('-u', $User, '--', $nginx, '-t', '-q') + $arguments[0..3]) -TimeoutSec 30 -Description 'nginx -t'
            $proc = Start-YvBackgroundProcess -FilePath $runuser -ArgumentList (@('-u', $User, '--', $nginx) + $arguments) -LogFile (Join-Path $dir 'logs/stdout.log') -WorkingDirectory $dir
        } else {
            $null = Invoke-YvProcess -FilePath $nginx -ArgumentList (@('-t', '-q') + $arguments[0..3]) -TimeoutSec 30 -Description 'nginx -t'
            $proc = Start-YvBackgroundProcess -FilePath $nginx -ArgumentList $arguments -LogFile (Join-Path $dir 'logs/stdout.log') -WorkingDirectory $dir
        }
        Wait-YvCondition -Condition { (Test-Path -LiteralPath $pidFile) -and (Test-YvTcpPort -Port $port) } -TimeoutSec $TimeoutSec -IntervalMs 50 -Process $proc `
            -What "Start-TestNginx: nginx on 127.0.0.1:$port" -LogFile $errorLog
        $result = [pscustomobject][ordered]@{
            PSTypeName   = 'YieldVault.TestServices.Nginx'
            Port         = $port
            Url          = "http://127.0.0.1:$port"
            ConfigFile   = $conf
            UpstreamFile = $upstream
            UpstreamName = $UpstreamName
            PidFile      = $pidFile
            ErrorLog     = $errorLog
            AccessLog    = $accessLog
            User         = if ($User) { $User } else { [Environment]::UserName }
            Process      = $proc
            Pid          = $proc.Id
            Directory    = $dir
            StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        }
        $script:Started.Add($result)
        $result
    } catch {
        if ($proc) { Stop-YvProcessTree -Process $proc -GraceSec 3 }
        Remove-YvDirectory -Path $dir
        throw
    }
}

function Get-TestNginxUpstreamPort {
    <# .SYNOPSIS The port the upstream file sends traffic to now (what nginx serves after its last reload). #>
    param([Parameter(Mandatory)] $Nginx)
    $m = [regex]::Match((Get-Content -LiteralPath $Nginx.UpstreamFile -Raw), 'server\s+127\.0\.0\.1:(\d+)')
    if ($m.Success) { [int]$m.Groups[1].Value } else { $null }
}

function Get-TestNginxWorkers {
    <# .SYNOPSIS The worker processes of the nginx master (pid and title), to see old workers still shutting down. #>
    param([Parameter(Mandatory)] $Nginx)
    $master = [int](Get-Content -LiteralPath $Nginx.PidFile -TotalCount 1)
    foreach ($line in @(& ps -o pid=,args= --ppid $master)) {
        $parts = $line.Trim() -split '\s+', 2
        [pscustomobject]@{ Pid = [int]$parts[0]; Title = $parts[1] }
    }
}

function Stop-TestNginx {
    <# .SYNOPSIS Stops nginx (master and workers) and removes its directory. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Nginx)
    process {
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Nginx) { return }
        $master = 0
        if (Test-Path -LiteralPath $Nginx.PidFile) { $master = [int](Get-Content -LiteralPath $Nginx.PidFile -TotalCount 1) }
        Stop-YvProcessTree -ProcessId $Nginx.Pid -Process $Nginx.Process -GraceSec 5
        # Under runuser the master is runuser's child; a master that outlived it (or a reload's new workers) is stopped too.
        if ($master -gt 0 -and (Test-YvProcessAlive -ProcessId $master)) { Stop-YvProcessTree -ProcessId $master -GraceSec 5 }
        Remove-YvDirectory -Path $Nginx.Directory
        [void]$script:Started.Remove($Nginx)
    }
}

function Stop-AllTestNginx {
    foreach ($n in @($script:Started)) { Stop-TestNginx $n -ErrorAction Continue }
}

Export-ModuleMember -Function Start-TestNginx, Stop-TestNginx, Stop-AllTestNginx, Get-TestNginxUpstreamPort, Get-TestNginxWorkers
