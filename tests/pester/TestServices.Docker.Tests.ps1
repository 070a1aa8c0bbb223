# The test services themselves, where a fault in them once failed a whole CI run: a machine whose engine was killed
# (a CI runner torn down, a machine reset) keeps /var/run/docker.pid and containerd.pid, and after the restart those
# pids may belong to other processes. dockerd then either refuses to start (its pid file names a live process) or
# waits for a "containerd still running" that never answers, and every Docker suite's BeforeAll failed
# (CI of stop 17: "failed to start containerd: timeout waiting for containerd to start", twice).
# This file kills the engine: it runs in the engine lane, after every other Docker suite (build.ps1 sorts by name).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force

    function Get-PidFromFile([string] $Path) {
        if (-not (Test-Path -LiteralPath $Path)) { return 0 }
        [int](@(Get-Content -LiteralPath $Path -TotalCount 1)[0].Trim())
    }
    function Get-ProgramOf([int] $ProcessId) {
        $cmd = try { [IO.File]::ReadAllText("/proc/$ProcessId/cmdline") } catch { '' }
        [IO.Path]::GetFileName(($cmd -split [char]0)[0])
    }
    function Wait-Gone([int] $ProcessId) {
        for ($i = 0; $i -lt 100 -and (Test-Path "/proc/$ProcessId"); $i++) {
            $stat = try { [IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { '' }
            if ($stat -match '\) [ZX] ') { break }
            Start-Sleep -Milliseconds 100
        }
    }

    $script:DockerPid = '/var/run/docker.pid'
    $script:ContainerdPid = '/var/run/docker/containerd/containerd.pid'
    $script:Sleepers = @()
    $script:Engine = $null
}

AfterAll {
    foreach ($s in $script:Sleepers) { if (-not $s.HasExited) { $s.Kill() } }
    if ($script:Engine) { Stop-TestDockerd $script:Engine }
}

Describe 'Start-TestDockerd after the engine was killed and its pids reused' {
    It 'removes the pid files that name other processes and starts the engine' {
        $running = Start-TestDockerd
        if ($running.StartedByUs) { $script:Engine = $running }
        $dockerd = Get-PidFromFile $DockerPid
        $containerd = Get-PidFromFile $ContainerdPid
        Get-ProgramOf $dockerd | Should-Be 'dockerd'
        Get-ProgramOf $containerd | Should-Be 'containerd'

        # The kill of a torn-down machine: no graceful stop, so both pid files stay.
        & kill -KILL $dockerd $containerd
        Wait-Gone $dockerd
        Wait-Gone $containerd
        Test-Path -LiteralPath $DockerPid | Should-BeTrue
        Test-Path -LiteralPath $ContainerdPid | Should-BeTrue

        # The pids come back as other programs.
        $script:Sleepers = @(1..2 | ForEach-Object { Start-Process -FilePath /bin/sleep -ArgumentList 300 -PassThru })
        Set-Content -LiteralPath $DockerPid -Value $Sleepers[0].Id -NoNewline
        Set-Content -LiteralPath $ContainerdPid -Value $Sleepers[1].Id -NoNewline

        $script:Engine = Start-TestDockerd -TimeoutSec 60
        $Engine.StartedByUs | Should-BeTrue
        & docker version --format '{{.Server.Version}}' | Should-NotBeNull
        $LASTEXITCODE | Should-Be 0
        Get-ProgramOf (Get-PidFromFile $DockerPid) | Should-Be 'dockerd'
        Get-ProgramOf (Get-PidFromFile $ContainerdPid) | Should-Be 'containerd'
        # The processes that had the pids are left alone.
        $Sleepers | ForEach-Object { $_.HasExited | Should-BeFalse }
    }
}
