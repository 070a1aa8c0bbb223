#Requires -Version 7.2
<#
    A small HTTP file server on 127.0.0.1 (http-file-server.js beside this file, on Node): the artifacts a deployment
    downloads, served plainly, chunked (no Content-Length), through redirects, stalled, or 404; plus GET /health
    ({"status":"healthy"}) for a target to probe. Every request is logged (Get-TestHttpFileRequests).

    $http = Start-TestHttpFileServer [-Directory d]      # Url (http://127.0.0.1:<port>, no trailing slash), Port, Directory
    Copy-Item a.tar.gz $http.Directory                    # then GET $http.Url/files/a.tar.gz
    Stop-TestHttpFileServer $http
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:ServerScript = Join-Path $PSScriptRoot 'http-file-server.js'

function Start-TestHttpFileServer {
    <#
    .SYNOPSIS Starts the file server on a free port of 127.0.0.1, serving -Directory (default: a new directory of its own).
    .OUTPUTS Object with Url, Port, Directory (the files served), LogFile, RequestLog, Process, Pid, StateDirectory.
    #>
    [CmdletBinding()]
    param([string] $Directory, [int] $TimeoutSec = 15)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $node = Resolve-YvProgram -Name node -Install 'apt-get install -y nodejs'
    # 755: the files are read by this machine's SSH test users too (curl runs as them).
    $state = New-YvTempDirectory -Service http-files -Mode 'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
    $proc = $null
    try {
        if (-not $Directory) {
            $Directory = Join-Path $state 'files'
            [void][System.IO.Directory]::CreateDirectory($Directory)
        }
        $log = Join-Path $state 'server.log'
        $requests = Join-Path $state 'requests.jsonl'
        for ($try = 1; $try -le 5; $try++) {
            $port = Get-FreeTcpPort
            $proc = Start-YvBackgroundProcess -FilePath $node -ArgumentList $script:ServerScript, $port, $Directory, $requests -LogFile $log -WorkingDirectory $state
            try {
                Wait-YvCondition -Condition { Test-YvTcpPort -Port $port } -TimeoutSec $TimeoutSec -IntervalMs 50 -Process $proc `
                    -What "Start-TestHttpFileServer: node on 127.0.0.1:$port" -LogFile $log
                break
            } catch {
                Stop-YvProcessTree -Process $proc -GraceSec 2
                $proc = $null
                if ($try -eq 5) { throw }
            }
        }
        [pscustomobject]@{
            PSTypeName     = 'YieldVault.TestServices.HttpFileServer'
            Url            = "http://127.0.0.1:$port"
            Port           = $port
            Directory      = $Directory
            LogFile        = $log
            RequestLog     = $requests
            Process        = $proc
            Pid            = $proc.Id
            StateDirectory = $state
        }
    } catch {
        if ($proc) { Stop-YvProcessTree -Process $proc -GraceSec 2 }
        Remove-YvDirectory -Path $state
        throw
    }
}

function Get-TestHttpFileRequests {
    <# .SYNOPSIS The requests the server got so far: Method, Url (query values left out), UserAgent, RemotePort. #>
    param([Parameter(Mandatory)] $Server)
    if (-not (Test-Path -LiteralPath $Server.RequestLog)) { return }
    Get-Content -LiteralPath $Server.RequestLog | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json }
}

function Stop-TestHttpFileServer {
    <# .SYNOPSIS Stops the server and removes its state directory (and the files it served, when they were its own). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Server)
    process {
        if ($null -eq $Server) { return }
        Stop-YvProcessTree -ProcessId $Server.Pid -Process $Server.Process -GraceSec 3
        Remove-YvDirectory -Path $Server.StateDirectory
    }
}

Export-ModuleMember -Function Start-TestHttpFileServer, Get-TestHttpFileRequests, Stop-TestHttpFileServer
