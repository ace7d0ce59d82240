function Get-AnonymousRelayGrant {
    # The permission entries that let ANONYMOUS LOGON relay through a receive connector. The
    # *-ADPermission cmdlets take the connector's distinguished name, not its SERVER\Name identity.
    param(
        [Parameter(Mandatory)] $Connector
    )
    @(Get-ADPermission -Identity "$($Connector.DistinguishedName)" -User $AnonymousLogon |
        Where-Object { -not $_.Deny -and "$($_.ExtendedRights)" -match 'Accept-Any-Recipient' })
}

function Revoke-AnonymousRelay {
    # Anonymous relay belongs on the relay connector only; take it off any other managed connector.
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [Parameter(Mandatory)] $Connector
    )
    foreach ($grant in @(Get-AnonymousRelayGrant -Connector $Connector | Where-Object { -not $_.IsInherited })) {
        if ($PSCmdlet.ShouldProcess("$($Connector.Identity)", "Remove-ADPermission -User $AnonymousLogon -ExtendedRights $AcceptAnyRecipient")) {
            Remove-ADPermission -Identity "$($Connector.DistinguishedName)" -User $AnonymousLogon -ExtendedRights $AcceptAnyRecipient -Confirm:$false
        }
    }
}

function Get-ReconciledSet {
    # A multivalued setting with the wanted values added and the owned but unwanted ones removed;
    # every other value (an administrator's) stays. Change says what differs, for -WhatIf.
    param(
        [Parameter(Mandatory)] [string] $Name,
        [string[]] $Current = @(),
        [Parameter(Mandatory)] [string[]] $Wanted,
        [Parameter(Mandatory)] [string[]] $Owned
    )
    # 'None' stands alone and 'Custom' only reports extra permissions: neither can be set back.
    $present = @($Current | Where-Object { $_ -and $_ -ne 'None' -and $_ -ne 'Custom' })
    $added = @($Wanted | Where-Object { $present -notcontains $_ })
    $removed = @($present | Where-Object { $Owned -contains $_ -and $Wanted -notcontains $_ })
    $value = @(@($present | Where-Object { $removed -notcontains $_ }) + $added)
    $change = ''
    if ($added.Count -gt 0 -or $removed.Count -gt 0) {
        $change = "$Name add [$($added -join ', ')] remove [$($removed -join ', ')]"
    }
    [pscustomobject]@{ Value = $value; Change = $change }
}

function Get-ReconciledBindings {
    # The policy owns the port: bindings on it stay as they are (one interface, say); without one, the
    # connector listens on every address. Bindings on other ports go.
    param(
        [string[]] $Current = @(),
        [Parameter(Mandatory)] [int] $Port,
        [Parameter(Mandatory)] [string[]] $Default
    )
    $kept = @($Current | Where-Object { $_ -match ":$Port$" })
    $value = $kept
    if ($kept.Count -eq 0) {
        $value = $Default
    }
    $added = @($value | Where-Object { $Current -notcontains $_ })
    $removed = @($Current | Where-Object { $value -notcontains $_ })
    $change = ''
    if ($added.Count -gt 0 -or $removed.Count -gt 0) {
        $change = "Bindings add [$($added -join ', ')] remove [$($removed -join ', ')]"
    }
    [pscustomobject]@{ Value = $value; Change = $change }
}

function Sync-TransportRule {
    # The rules first in priority and in the given order; a rule is replaced only when its fingerprint
    # (Comments) changed, and rules named 'mtaharden ...' that are not given are removed.
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [object[]] $Rule = @()
    )
    $priority = 0
    foreach ($wanted in $Rule) {
        $current = Get-TransportRule -Identity $wanted.Name -ErrorAction SilentlyContinue
        $settings = $wanted.Settings
        if ($null -ne $current -and "$($current.Comments)" -eq $settings.Comments) {
            if ($current.Priority -ne $priority -and $PSCmdlet.ShouldProcess($wanted.Name, "Set-TransportRule -Priority $priority")) {
                Set-TransportRule -Identity $wanted.Name -Priority $priority
            }
        }
        elseif ($PSCmdlet.ShouldProcess($wanted.Name, 'New-TransportRule ' + (@($settings.Keys | Sort-Object) -join ', '))) {
            if ($null -ne $current) {
                Remove-TransportRule -Identity $wanted.Name -Confirm:$false
            }
            New-TransportRule -Name $wanted.Name -Priority $priority @settings
        }
        $priority += 1
    }
    $names = @($Rule | ForEach-Object { $_.Name })
    foreach ($stale in @(Get-TransportRule | Where-Object { $_.Name -like 'mtaharden *' -and $names -notcontains $_.Name })) {
        if ($PSCmdlet.ShouldProcess($stale.Name, 'Remove-TransportRule')) {
            Remove-TransportRule -Identity $stale.Identity -Confirm:$false
        }
    }
}

function ConvertTo-BigInteger {
    param(
        [Parameter(Mandatory)] [System.Net.IPAddress] $Address
    )
    $bytes = $Address.GetAddressBytes()
    [Array]::Reverse($bytes)
    [System.Numerics.BigInteger]::new([byte[]]($bytes + [byte]0))
}

function Get-RangeBound {
    # 'a.b.c.d', 'a.b.c.d/n' or 'low-high' (how Exchange prints RemoteIPRanges) as its first and last address.
    param(
        [Parameter(Mandatory)] [string] $Range
    )
    if ($Range -match '^(?<address>[^/]+)/(?<prefix>\d+)$') {
        $address = [System.Net.IPAddress]::Parse($Matches['address'])
        $size = [System.Numerics.BigInteger]::Pow(2, $address.GetAddressBytes().Length * 8 - [int]$Matches['prefix'])
        $low = [System.Numerics.BigInteger]::Multiply([System.Numerics.BigInteger]::Divide((ConvertTo-BigInteger -Address $address), $size), $size)
        $high = [System.Numerics.BigInteger]::Subtract([System.Numerics.BigInteger]::Add($low, $size), 1)
        return [pscustomobject]@{ Family = "$($address.AddressFamily)"; Low = $low; High = $high }
    }
    $ends = @($Range -split '-', 2)
    $first = [System.Net.IPAddress]::Parse($ends[0].Trim())
    [pscustomobject]@{
        Family = "$($first.AddressFamily)"
        Low = ConvertTo-BigInteger -Address $first
        High = ConvertTo-BigInteger -Address ([System.Net.IPAddress]::Parse($ends[-1].Trim()))
    }
}

function Test-InsideTrusted {
    # Whether a remote IP range lies inside one of the policy's trusted networks.
    param(
        [Parameter(Mandatory)] [string] $Range
    )
    $bound = Get-RangeBound -Range $Range
    foreach ($trusted in @($TrustedRanges | ForEach-Object { Get-RangeBound -Range $_ })) {
        if ($trusted.Family -eq $bound.Family -and $bound.Low -ge $trusted.Low -and $bound.High -le $trusted.High) {
            return $true
        }
    }
    $false
}

function Set-TransportAgentState {
    # Install the Mailbox antispam agents when asked and missing, and enable the named agents.
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [Parameter(Mandatory)] [string[]] $Agent,
        [switch] $Install
    )
    $changed = $false
    $missing = @($Agent | Where-Object { $null -eq (Get-TransportAgent -Identity $_ -ErrorAction SilentlyContinue) })
    if ($missing.Count -gt 0 -and $Install) {
        if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, 'Install-AntiSpamAgents.ps1')) {
            & (Join-Path $env:ExchangeInstallPath 'Scripts\Install-AntiSpamAgents.ps1')
            $changed = $true
        }
    }
    elseif ($missing.Count -gt 0) {
        Write-Warning ('transport agents missing on this server: ' + ($missing -join ', '))
    }
    foreach ($name in $Agent) {
        $current = Get-TransportAgent -Identity $name -ErrorAction SilentlyContinue
        if ($null -ne $current -and -not $current.Enabled -and $PSCmdlet.ShouldProcess($name, 'Enable-TransportAgent')) {
            Enable-TransportAgent -Identity $name
            $changed = $true
        }
    }
    if ($changed -and $PSCmdlet.ShouldProcess('MSExchangeTransport', 'Restart-Service')) {
        Restart-Service -Name 'MSExchangeTransport'
    }
}
