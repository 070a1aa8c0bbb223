#Requires -Version 7.2
<#
    Docker Swarm for the Pester suites, on the shared local engine (Start-TestDockerd first): a single-node swarm on
    127.0.0.1, services of the backend image, and a relay that lets tasks on Docker's bridge reach the test PostgreSQL and
    Stellar RPC stand-in on the host's 127.0.0.1.

    The engine is shared with other test runs, so the swarm is too:
      * Start-TestSwarm initialises it only when the engine is in no swarm, and then marks it as made by the tests
        (/tmp/yv-swarm/created). Every run that uses it registers itself (/tmp/yv-swarm/users/<run id>, with its pid).
      * Stop-TestSwarm removes this run's services and its registration. The last test run out leaves the swarm, but only
        one the tests made (the marker): a swarm that was there before any test is never left. Registrations of runs
        whose process is gone do not count.
      * Everything runs under a file lock (/tmp/yv-swarm.lock), so two runs cannot init or leave at the same time.
    Services carry the labels yieldvault-ops-test=1 and yieldvault-ops-test.run=<run id>, and names of the caller's choice
    (give them the run id); only this run's are removed. The kernel here has no IPVS: the routing mesh and service VIPs do
    not work, so services publish their port in host mode (reached at 127.0.0.1) and update stop-first (start-first with a
    host-mode port deadlocks on one node). Tasks are never reached at their container's own address.
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:StateRoot = '/tmp/yv-swarm'
$script:LockFile = '/tmp/yv-swarm.lock'
$script:TestLabel = 'yieldvault-ops-test'
$script:RunLabel = 'yieldvault-ops-test.run'
$script:RunId = [guid]::NewGuid().ToString('N').Substring(0, 12)
$script:Services = [System.Collections.Generic.List[string]]::new()
$script:Relays = [System.Collections.Generic.List[object]]::new()

function Get-SwState {
    $r = Invoke-YvDocker -ArgumentList 'info', '--format', '{{.Swarm.LocalNodeState}}|{{.Swarm.NodeID}}|{{.Swarm.ControlAvailable}}' -TimeoutSec 30
    $state, $node, $manager = $r.StdOut.Trim() -split '\|', 3
    [pscustomobject]@{ State = $state; NodeId = $node; Manager = ($manager -eq 'true') }
}

function Get-SwLiveUsers {
    # The registrations of test runs whose process still lives; stale ones are removed.
    $dir = Join-Path $script:StateRoot 'users'
    if (-not (Test-Path -LiteralPath $dir)) { return @() }
    @(foreach ($f in Get-ChildItem -LiteralPath $dir -File) {
            $procId = 0
            if ([int]::TryParse(([System.IO.File]::ReadAllText($f.FullName)).Trim(), [ref]$procId) -and (Test-YvProcessAlive -ProcessId $procId)) { $f.Name }
            else { Remove-Item -LiteralPath $f.FullName -Force -ErrorAction SilentlyContinue }
        })
}

function Start-TestSwarm {
    <#
    .SYNOPSIS Makes sure the local engine is a swarm manager: joins this run to a swarm the tests made, uses one that was
              there before (never leaving it), or initialises one on 127.0.0.1 (docker swarm init --advertise-addr 127.0.0.1).
    .OUTPUTS Object with NodeId, CreatedByTests (the tests made the swarm, now or earlier), InitializedNow, RunId, StartSeconds.
    #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 60)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    if (-not (Test-Path -LiteralPath '/var/run/docker.sock')) { throw 'Start-TestSwarm: no Docker engine socket at /var/run/docker.sock; call Start-TestDockerd first.' }
    $lock = Enter-YvFileLock -Path $script:LockFile -TimeoutSec $TimeoutSec -What 'Start-TestSwarm'
    try {
        [void][System.IO.Directory]::CreateDirectory((Join-Path $script:StateRoot 'users'))
        $marker = Join-Path $script:StateRoot 'created'
        $state = Get-SwState
        $initialized = $false
        if ($state.State -eq 'inactive') {
            [void](Invoke-YvDocker -ArgumentList 'swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377' -TimeoutSec $TimeoutSec)
            [System.IO.File]::WriteAllText($marker, "initialised by test run $script:RunId (pid $PID) at $([DateTime]::UtcNow.ToString('o'))`n")
            $initialized = $true
            $state = Get-SwState
        } elseif ($state.State -ne 'active') {
            throw "Start-TestSwarm: the engine's swarm state is '$($state.State)'; expected active or inactive."
        } elseif (-not (Test-Path -LiteralPath $marker)) {
            Write-Verbose 'Start-TestSwarm: the engine was in a swarm before any test run: using it, never leaving it.'
        }
        if (-not $state.Manager) { throw 'Start-TestSwarm: the engine is in a swarm but not a manager; services cannot be made here.' }
        [System.IO.File]::WriteAllText((Join-Path $script:StateRoot "users/$script:RunId"), "$PID`n")
        [pscustomobject]@{
            PSTypeName = 'YieldVault.TestServices.Swarm'; NodeId = $state.NodeId; CreatedByTests = (Test-Path -LiteralPath $marker)
            InitializedNow = $initialized; RunId = $script:RunId; StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        }
    } finally {
        $lock.Dispose()
    }
}

function Stop-TestSwarm {
    <#
    .SYNOPSIS Removes this run's services and registration; leaves the swarm when the tests made it and no other live test
              run uses it (then also removes docker_gwbridge, which "swarm leave" leaves behind). Idempotent.
    #>
    [CmdletBinding()]
    param([AllowNull()] $Swarm, [int] $TimeoutSec = 60)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    if (-not (Test-Path -LiteralPath '/var/run/docker.sock')) { return }
    Remove-AllTestSwarmServices
    $lock = Enter-YvFileLock -Path $script:LockFile -TimeoutSec $TimeoutSec -What 'Stop-TestSwarm'
    try {
        Remove-Item -LiteralPath (Join-Path $script:StateRoot "users/$script:RunId") -Force -ErrorAction SilentlyContinue
        $marker = Join-Path $script:StateRoot 'created'
        if (-not (Test-Path -LiteralPath $marker)) { return }
        if (@(Get-SwLiveUsers).Count -gt 0) { return }
        if ((Get-SwState).State -eq 'active') {
            $left = @((Invoke-YvDocker -ArgumentList 'service', 'ls', '-q' -TimeoutSec 30).StdOut -split '\s+' | Where-Object { $_ })
            if ($left.Count -gt 0) {
                # Someone else's services (not a test run's): the swarm is theirs now too.
                Write-Warning "Stop-TestSwarm: the swarm the tests made still has $($left.Count) service(s) that are not this run's; it is left active."
                return
            }
            [void](Invoke-YvDocker -ArgumentList 'swarm', 'leave', '--force' -TimeoutSec $TimeoutSec)
        }
        $gw = Invoke-YvDocker -ArgumentList 'network', 'inspect', '--format', '{{len .Containers}}', 'docker_gwbridge' -TimeoutSec 30 -AllowFailure
        if ($gw.ExitCode -eq 0 -and $gw.StdOut.Trim() -eq '0') { [void](Invoke-YvDocker -ArgumentList 'network', 'rm', 'docker_gwbridge' -TimeoutSec 30 -AllowFailure) }
        Remove-Item -LiteralPath $marker -Force
    } finally {
        $lock.Dispose()
    }
}

function New-TestSwarmService {
    <#
    .SYNOPSIS Creates a replicated service of -Image named -Name, labelled as this run's, its environment from -EnvFile,
              and waits until its tasks run (and are healthy, when the image has a health check).
    .PARAMETER PublishPort Published in host mode (reached at 127.0.0.1:<port> on this node) from -TargetPort.
    .PARAMETER HostNetwork Instead of a published port: the tasks use the host's network (PORT in the env file is the port).
    .PARAMETER DockerConfig A directory with a config.json logged in to the image's registry: the CLI sends its auth with the
               service (--with-registry-auth), so the node can pull.
    .OUTPUTS Object with Name, Id, Image, Port, Seconds.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Publish')]
    param(
        [Parameter(Mandatory)] [ValidatePattern('^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$')] [string] $Name,
        [Parameter(Mandatory)] [string] $Image,
        [Parameter(Mandatory, ParameterSetName = 'Publish')] [int] $PublishPort,
        [Parameter(ParameterSetName = 'Publish')] [int] $TargetPort = 3000,
        [Parameter(Mandatory, ParameterSetName = 'Host')] [switch] $HostNetwork,
        [Parameter(Mandatory)] [string] $EnvFile,
        [string] $DockerConfig,
        [string[]] $Mount = @(),
        [int] $Replicas = 1,
        [int] $TimeoutSec = 120
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $cli = @('service', 'create', '--detach', '--name', $Name, '--replicas', [string]$Replicas,
        '--label', "$script:TestLabel=1", '--label', "$script:RunLabel=$script:RunId",
        '--container-label', "$script:TestLabel=1", '--container-label', "$script:RunLabel=$script:RunId",
        '--env-file', $EnvFile, '--update-order', 'stop-first', '--rollback-order', 'stop-first',
        '--restart-condition', 'on-failure', '--restart-delay', '2s')
    if ($HostNetwork) { $cli += '--network', 'host' }
    else { $cli += '--publish', "published=$PublishPort,target=$TargetPort,mode=host" }
    foreach ($m in $Mount) { $cli += '--mount', $m }
    if ($DockerConfig) { $cli += '--with-registry-auth' }
    $cli += $Image
    $docker = Resolve-YvProgram -Name docker -Install 'apt-get install -y docker.io'
    $environment = @{}
    if ($DockerConfig) { $environment['DOCKER_CONFIG'] = $DockerConfig }
    [void](Invoke-YvProcess -FilePath $docker -ArgumentList $cli -Environment $environment -TimeoutSec $TimeoutSec -LocalDocker -Description "docker service create $Name")
    $script:Services.Add($Name)
    $running = {
        $r = Invoke-YvDocker -ArgumentList 'service', 'ps', '--filter', 'desired-state=running', '--format', '{{.CurrentState}}', $Name -TimeoutSec 30 -AllowFailure
        @($r.StdOut -split "`n" | Where-Object { $_ -like 'Running*' }).Count -ge $Replicas
    }
    $explain = { (Invoke-YvDocker -ArgumentList 'service', 'ps', '--no-trunc', $Name -TimeoutSec 30 -AllowFailure).Output }
    Wait-YvCondition -Condition $running -TimeoutSec $TimeoutSec -IntervalMs 500 -What "New-TestSwarmService: $Name running" -Explain $explain
    $id = (Invoke-YvDocker -ArgumentList 'service', 'inspect', '--format', '{{.ID}}', $Name -TimeoutSec 30).StdOut.Trim()
    [pscustomobject]@{
        PSTypeName = 'YieldVault.TestServices.SwarmService'; Name = $Name; Id = $id; Image = $Image
        Port = $(if ($HostNetwork) { $null } else { $PublishPort }); Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
    }
}

function Get-TestSwarmService {
    <# .SYNOPSIS docker service inspect of -Name (the CLI, not the module), or $null. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    $r = Invoke-YvDocker -ArgumentList 'service', 'inspect', $Name -TimeoutSec 30 -AllowFailure
    if ($r.ExitCode -ne 0) { return $null }
    @($r.StdOut | ConvertFrom-Json)[0]
}

function Get-TestSwarmTasks {
    <# .SYNOPSIS The service's tasks as docker service ps --no-trunc shows them (Name, Image, DesiredState, CurrentState, Error). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name)
    $r = Invoke-YvDocker -ArgumentList 'service', 'ps', '--no-trunc', '--format', '{{json .}}', $Name -TimeoutSec 30
    @($r.StdOut -split "`n" | Where-Object { $_.Trim() } | ForEach-Object { $_ | ConvertFrom-Json })
}

function Remove-TestSwarmService {
    <# .SYNOPSIS Removes a service this run made (checked by its run label). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Service)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Service) { return }
        $name = if ($Service -is [string]) { $Service } else { [string]$Service.Name }
        $r = Invoke-YvDocker -ArgumentList 'service', 'inspect', '--format', "{{index .Spec.Labels `"$script:RunLabel`"}}", $name -TimeoutSec 30 -AllowFailure
        if ($r.ExitCode -ne 0) { [void]$script:Services.Remove($name); return }
        if ($r.StdOut.Trim() -ne $script:RunId) { throw "Remove-TestSwarmService: '$name' was not made by this test run; not removing it." }
        [void](Invoke-YvDocker -ArgumentList 'service', 'rm', $name -TimeoutSec 60)
        [void]$script:Services.Remove($name)
    }
}

function Remove-AllTestSwarmServices {
    <# .SYNOPSIS Removes every service of this run (label yieldvault-ops-test.run=<run id>) and waits until their containers are gone. #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 60)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    if ((Get-SwState).State -ne 'active') { $script:Services.Clear(); return }
    $ids = @((Invoke-YvDocker -ArgumentList 'service', 'ls', '-q', '--filter', "label=$script:RunLabel=$script:RunId" -TimeoutSec 30).StdOut -split '\s+' | Where-Object { $_ })
    if ($ids) { [void](Invoke-YvDocker -ArgumentList (@('service', 'rm') + $ids) -TimeoutSec 60) }
    $script:Services.Clear()
    $gone = { -not ((Invoke-YvDocker -ArgumentList 'ps', '-aq', '--filter', "label=$script:RunLabel=$script:RunId", '--filter', 'label=com.docker.swarm.service.id' -TimeoutSec 30).StdOut.Trim()) }
    Wait-YvCondition -Condition $gone -TimeoutSec $TimeoutSec -IntervalMs 500 -What "Remove-AllTestSwarmServices: the tasks' containers gone"
}

function Get-TestBridgeGateway {
    <# .SYNOPSIS The host's address on Docker's default bridge (172.17.0.1 here): where tasks on the bridge reach the host. #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    # The IPAM config of the default bridge may name no gateway: the address of the bridge's interface is the gateway.
    $name = (Invoke-YvDocker -ArgumentList 'network', 'inspect', '--format', '{{index .Options "com.docker.network.bridge.name"}}', 'bridge' -TimeoutSec 30).StdOut.Trim()
    if (-not $name) { $name = 'docker0' }
    $nic = [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() | Where-Object Name -EQ $name | Select-Object -First 1
    $address = if ($nic) { $nic.GetIPProperties().UnicastAddresses | Where-Object { $_.Address.AddressFamily -eq 'InterNetwork' } | Select-Object -First 1 }
    if (-not $address) { throw "Get-TestBridgeGateway: the bridge's interface $name has no IPv4 address." }
    $address.Address.ToString()
}

function Start-TestTcpRelay {
    <#
    .SYNOPSIS Starts tests/services/tcp-relay.js: listeners on the bridge's gateway address that forward to 127.0.0.1:<each
              -TargetPort>, so a task on the bridge reaches PostgreSQL and the RPC stand-in of this host.
    .OUTPUTS Object with Address, Ports (hashtable: target port -> relay port), Process, Directory, LogFile.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [int[]] $TargetPort, [int] $TimeoutSec = 15)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $node = Resolve-YvProgram -Name node -Install 'apt-get install -y nodejs'
    $address = Get-TestBridgeGateway
    $dir = New-YvTempDirectory -Service tcp-relay
    $log = Join-Path $dir 'relay.log'
    $arguments = @((Join-Path $PSScriptRoot 'tcp-relay.js'), '--listen', $address)
    foreach ($p in $TargetPort) { $arguments += '--target', [string]$p }
    $proc = Start-YvBackgroundProcess -FilePath $node -ArgumentList $arguments -LogFile $log -WorkingDirectory $dir
    try {
        Wait-YvCondition -Condition { (Test-Path -LiteralPath $log) -and ([System.IO.File]::ReadAllText($log) -match '(?m)^READY\s*$') } -TimeoutSec $TimeoutSec -IntervalMs 50 `
            -Process $proc -What 'Start-TestTcpRelay: READY line' -LogFile $log
        $ports = @{}
        foreach ($m in [regex]::Matches([System.IO.File]::ReadAllText($log), '(?m)^RELAY (\d+) (\d+)\s*$')) { $ports[[int]$m.Groups[1].Value] = [int]$m.Groups[2].Value }
        $relay = [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.TcpRelay'; Address = $address; Ports = $ports; Process = $proc; Directory = $dir; LogFile = $log }
        $script:Relays.Add($relay)
        $relay
    } catch {
        Stop-YvProcessTree -Process $proc
        Remove-YvDirectory -Path $dir
        throw
    }
}

function Stop-TestTcpRelay {
    <# .SYNOPSIS Stops the relay and removes its directory. Idempotent. #>
    [CmdletBinding()]
    param([AllowNull()] $Relay)
    if ($null -eq $Relay) { return }
    if ($Relay.Process -and -not $Relay.Process.HasExited) { Stop-YvProcessTree -Process $Relay.Process }
    Remove-YvDirectory -Path $Relay.Directory
    [void]$script:Relays.Remove($Relay)
}

function Add-TestImageHealthcheck {
    <#
    .SYNOPSIS Makes -Tag from -Image with a HEALTHCHECK that asks the backend's /health on its PORT (node, which the image
              has): the engine then marks an unhealthy task failed, and a Swarm update with failure action rollback goes
              back by itself. The image keeps -Image's labels (so Remove-TestBackendImageVariant finds it).
    .OUTPUTS The tag.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Image, [Parameter(Mandatory)] [string] $Tag, [int] $IntervalSec = 2, [int] $Retries = 3)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $probe = "require('http').get('http://127.0.0.1:'+(process.env.PORT||3000)+'/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
    $cmd = (@('/usr/bin/node', '-e', $probe) | ConvertTo-Json -Compress)
    $source = 'yv-hc-src-' + [guid]::NewGuid().ToString('N').Substring(0, 10)
    try {
        [void](Invoke-YvDocker -ArgumentList 'create', '--name', $source, $Image -TimeoutSec 60)
        [void](Invoke-YvDocker -ArgumentList 'commit', '--change', "HEALTHCHECK --interval=${IntervalSec}s --timeout=3s --start-period=2s --retries=$Retries CMD $cmd", $source, $Tag -TimeoutSec 120)
    } finally {
        [void](Invoke-YvDocker -ArgumentList 'rm', '-f', $source -TimeoutSec 60 -AllowFailure)
    }
    $Tag
}

function Get-TestSwarmRunId {
    <# .SYNOPSIS The run id this module instance puts on its services (label yieldvault-ops-test.run). #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $script:RunId
}

Export-ModuleMember -Function @(
    'Start-TestSwarm', 'Stop-TestSwarm', 'New-TestSwarmService', 'Get-TestSwarmService', 'Get-TestSwarmTasks', 'Remove-TestSwarmService', 'Remove-AllTestSwarmServices'
    'Get-TestBridgeGateway', 'Start-TestTcpRelay', 'Stop-TestTcpRelay', 'Add-TestImageHealthcheck', 'Get-TestSwarmRunId'
)
