#Requires -Version 7.2
<#
    Docker pieces for the Pester suites, on top of YieldVault.TestServices.psm1 (which starts the engine itself:
    Start-TestDockerd): an image of the sample backend built without pulling anything, backend containers on
    that image, and SSH access to the engine for the test user.

    The engine is shared with other test runs. Everything made here carries the label yieldvault-ops-test=1;
    containers also carry yieldvault-ops-test.run=<this module instance's run id>, and cleanup removes only
    those. Nothing is ever pruned. The backend image is kept between runs (cached by tag, rebuilt when missing
    or when its sources changed) because building it costs ~12 s; Remove-TestBackendImage removes it.
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:ImageContext = Join-Path $script:RepoRoot 'tests/fixtures/sample-backend-image'
$script:Fixture = Join-Path $script:RepoRoot 'tests/fixtures/sample-backend'
$script:DefaultImageTag = 'yieldvault-backend:v1.2.3-test'
$script:TestLabel = 'yieldvault-ops-test'
$script:RunLabel = 'yieldvault-ops-test.run'
$script:HashLabel = 'yieldvault-ops-test.source-hash'
$script:RunId = [guid]::NewGuid().ToString('N').Substring(0, 12)
$script:Containers = [System.Collections.Generic.List[string]]::new()

#region private helpers (the machine-level ones are in TestMachine.psm1)

function Assert-DkEngine {
    param([string] $What)
    if (-not (Test-Path -LiteralPath '/var/run/docker.sock')) { throw "${What}: no Docker engine socket at /var/run/docker.sock; call Start-TestDockerd first." }
}

function Get-DkSourceHash {
    # What the image is built from: the fixture's sources, the image context files and the node binary's version.
    $sha = [System.Security.Cryptography.IncrementalHash]::CreateHash([System.Security.Cryptography.HashAlgorithmName]::SHA256)
    try {
        foreach ($root in $script:Fixture, $script:ImageContext) {
            $files = Get-ChildItem -LiteralPath $root -Recurse -File -Force |
                Where-Object { $_.FullName.Substring($root.Length) -notmatch '(^|/)(node_modules|dist)(/|$)|(^|/)\.env$' } |
                Sort-Object { $_.FullName.Substring($root.Length) }
            foreach ($f in $files) {
                $sha.AppendData([System.Text.Encoding]::UTF8.GetBytes($f.FullName.Substring($script:RepoRoot.Length) + "`n"))
                $sha.AppendData([System.IO.File]::ReadAllBytes($f.FullName))
            }
        }
        $node = Resolve-YvProgram -Name node -Install 'apt-get install -y nodejs'
        $sha.AppendData([System.Text.Encoding]::UTF8.GetBytes((& $node --version)))
        ([System.Convert]::ToHexString($sha.GetHashAndReset())).Substring(0, 16).ToLowerInvariant()
    } finally {
        $sha.Dispose()
    }
}

function Get-DkImage {
    # Id and source-hash label of an image, or $null when the engine does not have it.
    param([Parameter(Mandatory)] [string] $Tag)
    $r = Invoke-YvDocker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}|{{json .Config.Labels}}', $Tag -TimeoutSec 30 -AllowFailure
    if ($r.ExitCode -ne 0) {
        if ($r.Output -match '(?i)no such image') { return $null }
        throw "Could not inspect the image '$Tag': $($r.Output.Trim())"
    }
    $id, $json = $r.StdOut.Trim() -split '\|', 2
    $labels = Get-DkLabels $json
    [pscustomobject]@{ Id = $id; SourceHash = $labels[$script:HashLabel]; Ours = ($labels[$script:TestLabel] -eq '1') }
}

function Get-DkLabels {
    param([string] $Json)
    $table = @{}
    if ($Json -and $Json.Trim() -ne 'null') {
        foreach ($p in ($Json | ConvertFrom-Json).PSObject.Properties) { $table[$p.Name] = [string]$p.Value }
    }
    $table
}

#endregion

function Grant-TestDockerAccess {
    <#
    .SYNOPSIS Lets a test user (default yvops) use the local engine over SSH: adds it to the docker group
              (idempotent) and checks that a docker CLI is there for `docker system dial-stdio`.
    .OUTPUTS Object with User, Group, Added (whether this call added the user), DockerCli.
    #>
    [CmdletBinding()]
    param([string] $User = 'yvops')
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    if ($User -notmatch '^[a-z_][a-z0-9_-]{0,30}$') { throw "Grant-TestDockerAccess: '$User' is not a valid user name." }
    $cli = Resolve-YvProgram -Name docker -Install 'apt-get install -y docker.io' -Candidates '/usr/bin/docker', '/usr/local/bin/docker'
    $id = Resolve-YvProgram -Name id -Install 'apt-get install -y coreutils' -Candidates '/usr/bin/id'
    $getent = Resolve-YvProgram -Name getent -Install 'apt-get install -y libc-bin' -Candidates '/usr/bin/getent'
    $gpasswd = Resolve-YvProgram -Name gpasswd -Install 'apt-get install -y passwd' -Candidates '/usr/bin/gpasswd'
    if ((Invoke-YvProcess -FilePath $getent -ArgumentList 'group', 'docker' -AllowFailure -TimeoutSec 10).ExitCode -ne 0) {
        throw "Grant-TestDockerAccess: there is no 'docker' group; it comes with the engine: apt-get install -y docker.io"
    }
    $groups = (Invoke-YvProcess -FilePath $id -ArgumentList '-nG', $User -TimeoutSec 10).StdOut.Trim() -split '\s+'
    $added = $false
    if ($groups -notcontains 'docker') {
        # gpasswd edits /etc/group under its own lock, so concurrent runs cannot corrupt it.
        [void](Invoke-YvProcess -FilePath $gpasswd -ArgumentList '-a', $User, 'docker' -TimeoutSec 30)
        $added = $true
    }
    [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.DockerAccess'; User = $User; Group = 'docker'; Added = $added; DockerCli = $cli }
}

function New-TestBackendImage {
    <#
    .SYNOPSIS Builds (or reuses) an image of the sample backend: FROM scratch with this machine's node, its shared
              libraries and the built app (tests/fixtures/sample-backend-image). No registry is needed.
    .DESCRIPTION Cached by tag: an image with that tag, our label and the same source hash is reused; otherwise it
                 is rebuilt and the image it replaces (ours only) is removed.
    .OUTPUTS Object with Tag, Id, Cached, SourceHash, Seconds.
    #>
    [CmdletBinding()]
    param(
        [string] $Tag = $script:DefaultImageTag,
        [int] $TimeoutSec = 300
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    Assert-DkEngine -What 'New-TestBackendImage'
    $bash = Resolve-YvProgram -Name bash -Install 'apt-get install -y bash' -Candidates '/bin/bash'
    $hash = Get-DkSourceHash
    $existing = Get-DkImage -Tag $Tag
    if ($existing -and $existing.SourceHash -eq $hash) {
        return [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.Image'; Tag = $Tag; Id = $existing.Id; Cached = $true; SourceHash = $hash; Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2) }
    }
    if ($existing -and -not $existing.Ours) {
        throw "New-TestBackendImage: the tag '$Tag' belongs to an image without the $script:TestLabel label; choose another -Tag."
    }

    $dir = New-YvTempDirectory -Service backend-image
    try {
        $ctx = Join-Path $dir 'context'
        [void](Invoke-YvProcess -FilePath $bash -ArgumentList (Join-Path $script:ImageContext 'build-context.sh'), $ctx -TimeoutSec $TimeoutSec -Description 'build-context.sh')
        [void](Invoke-YvDocker -ArgumentList 'build', '-q', '-t', $Tag, '--label', "$script:TestLabel=1", '--label', "$script:HashLabel=$hash", $ctx -TimeoutSec $TimeoutSec)
    } finally {
        Remove-YvDirectory -Path $dir
    }
    $built = Get-DkImage -Tag $Tag
    if (-not $built) { throw "New-TestBackendImage: docker build reported success but '$Tag' does not exist." }
    if ($existing -and $existing.Id -ne $built.Id) {
        # The replaced image is now untagged; remove it unless a container still uses it.
        [void](Invoke-YvDocker -ArgumentList 'image', 'rm', $existing.Id -TimeoutSec 60 -AllowFailure)
    }
    [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.Image'; Tag = $Tag; Id = $built.Id; Cached = $false; SourceHash = $hash; Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2) }
}

function Remove-TestBackendImage {
    <# .SYNOPSIS Removes the backend image (only when it carries the yieldvault-ops-test label). Idempotent. #>
    [CmdletBinding()]
    param([string] $Tag = $script:DefaultImageTag)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $image = Get-DkImage -Tag $Tag
    if (-not $image) { return }
    if (-not $image.Ours) { throw "Remove-TestBackendImage: '$Tag' is not one of ours (no $script:TestLabel label); not removing it." }
    [void](Invoke-YvDocker -ArgumentList 'image', 'rm', $Tag -TimeoutSec 60)
}

function Start-TestBackendContainer {
    <#
    .SYNOPSIS Runs a container of the backend image, labelled as ours, and (unless -NoWait) waits for its
              "Server started on port" log line.
    .PARAMETER Port Host networking (default): the port the backend listens on at the host's 127.0.0.1, so it
              reaches PostgreSQL and the RPC stand-in there. With -PublishPort the container runs on the bridge
              network instead, listens on 3000 (HOST=0.0.0.0) and is published at 127.0.0.1:<PublishPort>.
    .PARAMETER Environment Variables for the container (passed in a 0600 env file, not on the command line).
    .PARAMETER Volume Bind mounts as docker run -v takes them ("/host/dir:/container/dir").
    .OUTPUTS Object with Name, Id, Image, Port, Url, HealthUrl, Network, RestartPolicy, StartSeconds.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Host')]
    param(
        [Parameter(Mandatory)] [ValidatePattern('^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$')] [string] $Name,
        [Parameter(ParameterSetName = 'Host')] [int] $Port,
        [Parameter(Mandatory, ParameterSetName = 'Publish')] [int] $PublishPort,
        [hashtable] $Environment = @{},
        [ValidateSet('no', 'always', 'unless-stopped', 'on-failure')] [string] $RestartPolicy = 'no',
        [string] $Image = $script:DefaultImageTag,
        [ValidatePattern('^/[^:]*:/[^:]*(:(ro|rw))?$')] [string[]] $Volume = @(),
        [switch] $NoWait,
        [int] $TimeoutSec = 30
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    Assert-DkEngine -What 'Start-TestBackendContainer'
    $publish = $PSCmdlet.ParameterSetName -eq 'Publish'
    if (-not $publish -and -not $Port) { $Port = Get-FreeTcpPort }

    $vars = [ordered]@{}
    foreach ($k in $Environment.Keys) { $vars[[string]$k] = [string]$Environment[$k] }
    if ($publish) { $vars['HOST'] = '0.0.0.0'; $vars['PORT'] = '3000' } else { $vars['PORT'] = [string]$Port }
    foreach ($k in $vars.Keys) {
        if ($k -notmatch '^[A-Za-z_][A-Za-z0-9_]*$' -or $vars[$k] -match "[`r`n]") { throw "Start-TestBackendContainer: variable '$k' cannot go into an env file." }
    }

    $dir = New-YvTempDirectory -Service container-env
    try {
        $envFile = Join-Path $dir 'env'
        Write-YvFile -Path $envFile -Text (-join @(foreach ($k in $vars.Keys) { "$k=$($vars[$k])`n" })) -Mode 'UserRead, UserWrite'

        $runArgs = @('run', '-d', '--name', $Name, '--label', "$script:TestLabel=1", '--label', "$script:RunLabel=$script:RunId",
            '--env-file', $envFile, '--restart', $RestartPolicy, '--stop-timeout', '10')
        $runArgs += if ($publish) { @('-p', "127.0.0.1:${PublishPort}:3000") } else { @('--network', 'host') }
        foreach ($v in $Volume) { $runArgs += @('-v', $v) }
        $script:Containers.Add($Name)
        $run = Invoke-YvDocker -ArgumentList ($runArgs + $Image) -TimeoutSec 60
    } finally {
        Remove-YvDirectory -Path $dir
    }
    $id = $run.StdOut.Trim()
    $url = if ($publish) { "http://127.0.0.1:$PublishPort" } else { "http://127.0.0.1:$Port" }

    if (-not $NoWait) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        for ($i = 0; $i -lt 10000; $i++) {
            $logs = (Invoke-YvDocker -ArgumentList 'logs', $Name -TimeoutSec 20 -AllowFailure).Output
            if ($logs -match 'Server started on port') { break }
            $state = (Invoke-YvDocker -ArgumentList 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', $Name -TimeoutSec 20 -AllowFailure).StdOut.Trim()
            if ($state -like 'exited*' -or $state -like 'dead*') {
                throw "Start-TestBackendContainer: $Name stopped before it was ready ($state). Its log:`n$((@($logs -split "`n") | Select-Object -Last 20) -join "`n")"
            }
            if ([DateTime]::UtcNow -ge $deadline) {
                throw "Start-TestBackendContainer: $Name did not log 'Server started on port' within $TimeoutSec s ($state). Its log:`n$((@($logs -split "`n") | Select-Object -Last 20) -join "`n")"
            }
            Start-Sleep -Milliseconds 150
        }
    }
    [pscustomobject]@{
        PSTypeName    = 'YieldVault.TestServices.BackendContainer'
        Name          = $Name
        Id            = $id
        Image         = $Image
        Port          = if ($publish) { $PublishPort } else { $Port }
        Url           = $url
        HealthUrl     = "$url/health"
        Network       = if ($publish) { 'bridge' } else { 'host' }
        RestartPolicy = $RestartPolicy
        StartSeconds  = [math]::Round($sw.Elapsed.TotalSeconds, 2)
    }
}

function Remove-TestBackendContainer {
    <# .SYNOPSIS Force-removes a container started by this module instance (by name or object). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Container)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Container) { return }
        $name = if ($Container -is [string]) { $Container } else { [string]$Container.Name }
        $run = Invoke-YvDocker -ArgumentList 'container', 'inspect', '--format', '{{json .Config.Labels}}', $name -TimeoutSec 20 -AllowFailure
        if ($run.ExitCode -ne 0) {
            if ($run.Output -match '(?i)no such (container|object)') { [void]$script:Containers.Remove($name); return }
            throw "Remove-TestBackendContainer: could not inspect '$name': $($run.Output.Trim())"
        }
        if ((Get-DkLabels $run.StdOut.Trim())[$script:RunLabel] -ne $script:RunId) { throw "Remove-TestBackendContainer: '$name' was not started by this test run; not removing it." }
        [void](Invoke-YvDocker -ArgumentList 'rm', '-f', $name -TimeoutSec 60)
        [void]$script:Containers.Remove($name)
    }
}

function Remove-AllTestDockerResources {
    <#
    .SYNOPSIS Removes every container of this module instance's run (labels yieldvault-ops-test=1 and
              yieldvault-ops-test.run=<run id>). -IncludeImage also removes the cached backend image.
    #>
    [CmdletBinding()]
    param([switch] $IncludeImage)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    if (-not (Test-Path -LiteralPath '/var/run/docker.sock')) { return }
    $ids = @((Invoke-YvDocker -ArgumentList 'ps', '-aq', '--filter', "label=$script:TestLabel=1", '--filter', "label=$script:RunLabel=$script:RunId" -TimeoutSec 30).StdOut -split '\s+' | Where-Object { $_ })
    if ($ids) { [void](Invoke-YvDocker -ArgumentList (@('rm', '-f') + $ids) -TimeoutSec 120) }
    $script:Containers.Clear()
    if ($IncludeImage) { Remove-TestBackendImage }
}

function New-TestBackendImageVariant {
    <#
    .SYNOPSIS Builds a release image of the sample backend on top of the backend image, the way CI would label one:
              package.json says -Version (what /api/v1/version reports), APP_COMMIT is -Commit, and the OCI labels
              org.opencontainers.image.version/revision say the same. -Broken makes /health answer 503 for good (its
              database probe reads a table that does not exist, like the origin's v1.3.1-broken).
    .DESCRIPTION One small layer (the changed files) over the base image, committed from a created container: no
                 build, no pull. The image and every container made from it carry this module instance's run label, so
                 Remove-TestBackendImageVariant and Remove-AllTestDockerResources find them.
    .PARAMETER Commit Defaults to a 40-hex id derived from the version (stable across runs).
    .OUTPUTS Object with Tag, Id, Version, Commit, Broken, Seconds.
    #>
    [CmdletBinding()]
    param(
        [string] $From = $script:DefaultImageTag,
        [Parameter(Mandatory)] [ValidatePattern('^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')] [string] $Tag,
        [Parameter(Mandatory)] [ValidatePattern('^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$')] [string] $Version,
        [ValidatePattern('^[0-9a-f]{40}$')] [string] $Commit,
        [switch] $Broken,
        [int] $TimeoutSec = 120
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    Assert-DkEngine -What 'New-TestBackendImageVariant'
    if (-not $Commit) {
        $Commit = [System.Convert]::ToHexString([System.Security.Cryptography.SHA1]::HashData([System.Text.Encoding]::UTF8.GetBytes("yieldvault-backend $Version"))).ToLowerInvariant()
    }
    $base = Get-DkImage -Tag $From
    if (-not $base) { throw "New-TestBackendImageVariant: there is no image '$From'; build it with New-TestBackendImage first." }
    $existing = Get-DkImage -Tag $Tag
    if ($existing -and -not $existing.Ours) { throw "New-TestBackendImageVariant: the tag '$Tag' belongs to an image without the $script:TestLabel label; choose another -Tag." }

    # No docker build (the legacy builder makes a container per instruction): one created, never started container
    # of the base image with the new env and labels, the changed files copied in, and a commit.
    $dir = New-YvTempDirectory -Service image-variant
    $source = 'yv-variant-src-' + [guid]::NewGuid().ToString('N').Substring(0, 10)
    try {
        [void](Invoke-YvDocker -ArgumentList 'create', '--name', $source, '--label', "$script:TestLabel=1", '--label', "$script:RunLabel=$script:RunId",
            '--label', "org.opencontainers.image.version=$Version", '--label', "org.opencontainers.image.revision=$Commit", '--env', "APP_COMMIT=$Commit", $From -TimeoutSec 60)
        $packageFile = Join-Path $dir 'package.json'
        [void](Invoke-YvDocker -ArgumentList 'cp', "${source}:/app/package.json", $packageFile -TimeoutSec 60)
        $package = Get-Content -LiteralPath $packageFile -Raw | ConvertFrom-Json -AsHashtable
        $package['version'] = $Version
        [System.IO.File]::WriteAllText($packageFile, ($package | ConvertTo-Json -Depth 20) + "`n")
        [void](Invoke-YvDocker -ArgumentList 'cp', $packageFile, "${source}:/app/package.json" -TimeoutSec 60)
        if ($Broken) {
            $db = Join-Path $dir 'database.js'
            [void](Invoke-YvDocker -ArgumentList 'cp', "${source}:/app/dist/database.js", $db -TimeoutSec 60)
            $text = [System.IO.File]::ReadAllText($db)
            $probe = "this.pool.query('SELECT 1')"
            if (([regex]::Matches($text, [regex]::Escape($probe))).Count -ne 1) { throw "New-TestBackendImageVariant: dist/database.js of '$From' does not contain $probe exactly once." }
            [System.IO.File]::WriteAllText($db, $text.Replace($probe, "this.pool.query('SELECT 1 FROM health_probe LIMIT 1')"))
            [void](Invoke-YvDocker -ArgumentList 'cp', $db, "${source}:/app/dist/database.js" -TimeoutSec 60)
        }
        [void](Invoke-YvDocker -ArgumentList 'commit', $source, $Tag -TimeoutSec $TimeoutSec)
    } finally {
        [void](Invoke-YvDocker -ArgumentList 'rm', '-f', $source -TimeoutSec 60 -AllowFailure)
        Remove-YvDirectory -Path $dir
    }
    $built = Get-DkImage -Tag $Tag
    if (-not $built) { throw "New-TestBackendImageVariant: docker build reported success but '$Tag' does not exist." }
    [pscustomobject]@{
        PSTypeName = 'YieldVault.TestServices.ImageVariant'; Tag = $Tag; Id = $built.Id; Version = $Version; Commit = $Commit; Broken = [bool]$Broken
        Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
    }
}

function Remove-TestBackendImageVariant {
    <#
    .SYNOPSIS Removes the images New-TestBackendImageVariant built in this module instance (labels yieldvault-ops-test=1
              and yieldvault-ops-test.run=<run id>); their containers must be gone first (Remove-AllTestDockerResources).
              Never the base backend image, never anyone else's. Idempotent.
    #>
    [CmdletBinding()]
    param()
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    if (-not (Test-Path -LiteralPath '/var/run/docker.sock')) { return }
    $refs = @((Invoke-YvDocker -ArgumentList 'images', '--filter', "label=$script:TestLabel=1", '--filter', "label=$script:RunLabel=$script:RunId", '--format', '{{.Repository}}:{{.Tag}}' -TimeoutSec 30).StdOut -split '\s+' |
        Where-Object { $_ -and $_ -notlike '*<none>*' -and $_ -ne $script:DefaultImageTag })
    if ($refs) { [void](Invoke-YvDocker -ArgumentList (@('image', 'rm') + $refs) -TimeoutSec 120) }
}

function Invoke-TestBackendImageMigration {
    <#
    .SYNOPSIS Runs the sample backend's migrations (node-pg-migrate up -m migrations) from a backend image, in a
              throwaway container on the host's network, so a database is ready for the API without a checkout.
              DATABASE_URL goes in a 0600 env file, not on a command line.
    .OUTPUTS Object with ExitCode, Output, Seconds.
    #>
    [CmdletBinding()]
    param(
        [string] $Image = $script:DefaultImageTag,
        [Parameter(Mandatory)] [string] $DatabaseUrl,
        [int] $TimeoutSec = 120
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    Assert-DkEngine -What 'Invoke-TestBackendImageMigration'
    if ($DatabaseUrl -match "[`r`n]") { throw 'Invoke-TestBackendImageMigration: the database URL cannot go into an env file.' }
    $dir = New-YvTempDirectory -Service migrate-env
    try {
        $envFile = Join-Path $dir 'env'
        Write-YvFile -Path $envFile -Text "DATABASE_URL=$DatabaseUrl`n" -Mode 'UserRead, UserWrite'
        Invoke-YvDocker -ArgumentList 'run', '--rm', '--network', 'host', '--label', "$script:TestLabel=1", '--label', "$script:RunLabel=$script:RunId",
            '--env-file', $envFile, '--entrypoint', '/usr/bin/node', $Image, '/app/node_modules/node-pg-migrate/bin/node-pg-migrate.js', 'up', '-m', 'migrations' -TimeoutSec $TimeoutSec
    } finally {
        Remove-YvDirectory -Path $dir
    }
}

function Get-TestDockerRunId {
    <# .SYNOPSIS The run id this module instance puts on its containers (label yieldvault-ops-test.run). #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $script:RunId
}

Export-ModuleMember -Function @(
    'Grant-TestDockerAccess'
    'New-TestBackendImage', 'Remove-TestBackendImage', 'New-TestBackendImageVariant', 'Remove-TestBackendImageVariant', 'Invoke-TestBackendImageMigration'
    'Start-TestBackendContainer', 'Remove-TestBackendContainer', 'Remove-AllTestDockerResources'
    'Get-TestDockerRunId'
)
